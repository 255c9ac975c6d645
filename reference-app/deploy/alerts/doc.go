// Package alerts holds the reference backend's Prometheus alerting rules
// (refapp-alerts.yaml) and, in its test, the proof that each rule fires on
// a series that breaks it and stays quiet on one that does not.
package alerts
