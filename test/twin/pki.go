package twin

import (
	"crypto"
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
)

// keyPair is a certificate and its private key, kept in memory and on disk.
type keyPair struct {
	cert     *x509.Certificate
	key      crypto.Signer
	certPath string
	keyPath  string
	certPEM  []byte
	keyPEM   []byte
}

// certSpec describes one certificate of the twin's PKI.
type certSpec struct {
	name   string // file name stem
	cn     string
	orgs   []string
	dns    []string
	ips    []net.IP
	client bool
	server bool
}

// pki is every certificate and key the control plane needs.
type pki struct {
	ca, frontProxyCA                           *keyPair
	apiserver, kubeletClient, frontProxyClient *keyPair
	admin, controllerManager, scheduler, kwok  *keyPair
	kwokServing                                *keyPair
	saKeyPath, saPubPath                       string
}

func newPKI(dir string) (*pki, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	p := &pki{}
	var err error
	if p.ca, err = newCA(dir, "ca", "twin-ca"); err != nil {
		return nil, err
	}
	if p.frontProxyCA, err = newCA(dir, "front-proxy-ca", "twin-front-proxy-ca"); err != nil {
		return nil, err
	}
	loopback := []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}
	specs := []struct {
		dst    **keyPair
		issuer *keyPair
		spec   certSpec
	}{
		{&p.apiserver, p.ca, certSpec{name: "apiserver", cn: "kube-apiserver", server: true, ips: append(loopback, net.ParseIP(serviceAPIServerIP)),
			dns: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}}},
		{&p.kubeletClient, p.ca, certSpec{name: "apiserver-kubelet-client", cn: "kube-apiserver-kubelet-client", orgs: []string{"kubeadm:cluster-admins"}, client: true}},
		{&p.frontProxyClient, p.frontProxyCA, certSpec{name: "front-proxy-client", cn: "front-proxy-client", client: true}},
		{&p.admin, p.ca, certSpec{name: "admin", cn: "twin-admin", orgs: []string{"system:masters"}, client: true}},
		{&p.controllerManager, p.ca, certSpec{name: "controller-manager", cn: "system:kube-controller-manager", client: true}},
		{&p.scheduler, p.ca, certSpec{name: "scheduler", cn: "system:kube-scheduler", client: true}},
		{&p.kwok, p.ca, certSpec{name: "kwok", cn: "kwok-controller", orgs: []string{"system:masters"}, client: true}},
		{&p.kwokServing, p.ca, certSpec{name: "kwok-serving", cn: "kwok-kubelet", server: true, ips: loopback, dns: []string{"localhost"}}},
	}
	for _, s := range specs {
		kp, err := newSigned(dir, s.issuer, s.spec)
		if err != nil {
			return nil, fmt.Errorf("certificate %s: %w", s.spec.name, err)
		}
		*s.dst = kp
	}
	sa, err := newKey()
	if err != nil {
		return nil, err
	}
	p.saKeyPath, p.saPubPath = filepath.Join(dir, "sa.key"), filepath.Join(dir, "sa.pub")
	keyDER, err := x509.MarshalPKCS8PrivateKey(sa)
	if err != nil {
		return nil, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(sa.Public())
	if err != nil {
		return nil, err
	}
	if err := writePEM(p.saKeyPath, "PRIVATE KEY", keyDER); err != nil {
		return nil, err
	}
	if err := writePEM(p.saPubPath, "PUBLIC KEY", pubDER); err != nil {
		return nil, err
	}
	return p, nil
}

func newKey() (*ecdsa.PrivateKey, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }

func newCA(dir, name, cn string) (*keyPair, error) {
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	return finish(dir, name, tmpl, tmpl, key, key)
}

func newSigned(dir string, issuer *keyPair, s certSpec) (*keyPair, error) {
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: s.cn, Organization: s.orgs},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		DNSNames:     s.dns,
		IPAddresses:  s.ips,
	}
	if s.client {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	if s.server {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	return finish(dir, s.name, tmpl, issuer.cert, key, issuer.key)
}

func finish(dir, name string, tmpl, parent *x509.Certificate, key *ecdsa.PrivateKey, signer crypto.Signer) (*keyPair, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	kp := &keyPair{
		cert: cert, key: key,
		certPath: filepath.Join(dir, name+".crt"), keyPath: filepath.Join(dir, name+".key"),
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}
	if err := os.WriteFile(kp.certPath, kp.certPEM, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(kp.keyPath, kp.keyPEM, 0o600); err != nil {
		return nil, err
	}
	return kp, nil
}

func writePEM(path, typ string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return n
}
