package queue

import (
	"fmt"
	"log/slog"
	"sync"
)

// serverLog adapts nats-server's logger to slog. The server's notices
// (startup banner, "server is ready") are debug records: refapp logs its
// own summary line. A fatal record is an error record, and is also kept so
// that Start can say why the server never became ready.
type serverLog struct {
	log *slog.Logger

	mu    sync.Mutex // guards fatal
	fatal string     // the first fatal message
	fatCh chan struct{}
}

func newServerLog(log *slog.Logger) *serverLog {
	return &serverLog{log: log.With("component", "nats-server"), fatCh: make(chan struct{})}
}

func (l *serverLog) Noticef(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l *serverLog) Warnf(format string, v ...any)   { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l *serverLog) Errorf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l *serverLog) Debugf(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l *serverLog) Tracef(format string, v ...any)  {}

func (l *serverLog) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.log.Error(msg)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fatal == "" {
		l.fatal = msg
		close(l.fatCh)
	}
}

// failed is closed at the first fatal record.
func (l *serverLog) failed() <-chan struct{} { return l.fatCh }

// fatalMsg is the first fatal message, "" before one.
func (l *serverLog) fatalMsg() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fatal
}
