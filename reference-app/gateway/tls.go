package gateway

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
)

// ListenTLS listens on addr for HTTPS clients with the certificate chain in
// certFile and its private key in keyFile (PEM, as tls.LoadX509KeyPair
// reads them). It offers TLS 1.2 and 1.3 and HTTP/1.1 only, so that a
// client sees the same protocol on both of the gateway's listeners. TLS
// ends here: the gateway talks plain HTTP to its upstreams.
func ListenTLS(addr, certFile, keyFile string) (net.Listener, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("listen tls: want both a certificate file and a key file")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("listen tls: load the key pair: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen tls: %w", err)
	}
	return tls.NewListener(ln, &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"http/1.1"},
	}), nil
}
