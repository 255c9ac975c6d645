package local

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/gameday/gameday/scenarios"
)

// CAFile is where, in a TLS target's data folder, the run's CA certificate
// is written (PEM), for clients other than gameday's own to trust.
const CAFile = "tls/ca.crt"

// certLifetime is how long the run's certificates are valid: longer than
// any run, short enough that a leaked one soon means nothing.
const certLifetime = 48 * time.Hour

// writeTLSFiles makes a throwaway CA and a serving certificate for the
// gateway, both ECDSA P-256, valid for 127.0.0.1, ::1 and localhost from
// an hour before now for certLifetime. It writes the gateway's certificate
// and key where scenarios.LocalTarget.Processes expects them under dir,
// and the CA certificate at CAFile; the CA's private key is never written
// and is gone when this returns, so nothing else can be signed by it. It
// returns a pool holding the CA.
func writeTLSFiles(dir string, now time.Time) (*x509.CertPool, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("make the run's CA: %w", err)
	}
	notBefore, notAfter := now.Add(-time.Hour), now.Add(certLifetime)
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "gameday run CA", Organization: []string{"gameday"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("make the run's CA: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("make the run's CA: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("make the gateway's certificate: %w", err)
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "localhost", Organization: []string{"gameday"}},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("make the gateway's certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("make the gateway's certificate: %w", err)
	}
	for _, f := range []struct {
		name, kind string
		der        []byte
		mode       os.FileMode
	}{
		{scenarios.LocalTLSCertFile, "CERTIFICATE", leafDER, 0o644},
		{scenarios.LocalTLSKeyFile, "PRIVATE KEY", keyDER, 0o600},
		{CAFile, "CERTIFICATE", caDER, 0o644},
	} {
		path := filepath.Join(dir, f.name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, fmt.Errorf("write %s: %w", f.name, err)
		}
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: f.kind, Bytes: f.der}), f.mode); err != nil {
			return nil, fmt.Errorf("write %s: %w", f.name, err)
		}
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool, nil
}

// serial returns a random 128-bit certificate serial number.
func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128)) // never fails (crypto/rand)
	return n
}
