//! rustls configurations from the SSL_* parameters: mutual TLS against SSL_CA (with SSL_CRL),
//! or an ephemeral self-signed certificate when none are set.

use crate::transport::error::TransportError;
use crate::transport::legacy_key;
use crate::transport::log::Level;
use crate::transport::types::TlsSettings;
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{Error as PemError, PemObject};
use rustls::pki_types::{
    CertificateDer, CertificateRevocationListDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName,
    UnixTime,
};
use rustls::server::WebPkiClientVerifier;
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;
use x509_cert::der::Decode;
use x509_cert::Certificate;

/// The name the dialer asks for. Certificates are not checked against it (see the module doc).
pub const SERVER_NAME: &str = "dcf-node";
const ALPN: &[u8] = b"dcf/1";

pub struct CryptoConfigs {
    pub server: Arc<QuicServerConfig>,
    pub client: Arc<QuicClientConfig>,
    /// Lines to log at start (unauthenticated mode, certificate expiry, file permissions).
    pub notices: Vec<(Level, String)>,
}

/// ring's suites with AES-128-GCM first: it encrypts every replicated byte with 10 AES rounds
/// instead of AES-256's 14, and is the suite every TLS 1.3 peer must support.
fn provider() -> Arc<CryptoProvider> {
    let mut p = rustls::crypto::ring::default_provider();
    p.cipher_suites
        .sort_by_key(|s| s.suite() != rustls::CipherSuite::TLS13_AES_128_GCM_SHA256);
    Arc::new(p)
}

fn file_err(path: &Path, reason: impl std::fmt::Display) -> TransportError {
    TransportError::TlsFile {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TransportError> {
    std::fs::read(path).map_err(|e| file_err(path, e))
}

fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TransportError> {
    let data = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&data)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_err(path, format!("bad PEM: {e}")))?;
    if certs.is_empty() {
        return Err(file_err(path, "no certificate in the file"));
    }
    Ok(certs)
}

fn load_crls(path: &Path) -> Result<Vec<CertificateRevocationListDer<'static>>, TransportError> {
    let data = read(path)?;
    let crls = CertificateRevocationListDer::pem_slice_iter(&data)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_err(path, format!("bad PEM: {e}")))?;
    if crls.is_empty() {
        return Err(file_err(path, "no certificate revocation list in the file"));
    }
    Ok(crls)
}

/// Reads a PEM private key: PKCS#8, PKCS#1 or SEC1; or an encrypted one opened with
/// `password`: encrypted PKCS#8 ("ENCRYPTED PRIVATE KEY", PBES2) or OpenSSL's traditional
/// AES-CBC encrypted PEM.
pub fn load_private_key(
    path: &Path,
    password: Option<&str>,
) -> Result<PrivateKeyDer<'static>, TransportError> {
    let data = read(path)?;
    let text = String::from_utf8_lossy(&data);
    const BEGIN: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----";
    const END: &str = "-----END ENCRYPTED PRIVATE KEY-----";
    if let Some(start) = text.find(BEGIN) {
        let end = text[start..]
            .find(END)
            .map(|e| start + e + END.len())
            .ok_or_else(|| file_err(path, "unterminated ENCRYPTED PRIVATE KEY block"))?;
        let password = password.ok_or_else(|| {
            file_err(path, "the key is encrypted and no password is set (SSL_PWD_PLAINTEXT or SSL_PWD_CIPHERTEXT)")
        })?;
        let (_, der) = pkcs8::SecretDocument::from_pem(&text[start..end])
            .map_err(|e| file_err(path, format!("bad encrypted key: {e}")))?;
        let info = pkcs8::EncryptedPrivateKeyInfo::try_from(der.as_bytes())
            .map_err(|e| file_err(path, format!("bad encrypted key: {e}")))?;
        let plain = info.decrypt(password).map_err(|e| {
            file_err(
                path,
                format!("cannot decrypt the key (wrong password?): {e}"),
            )
        })?;
        return Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            plain.as_bytes().to_vec(),
        )));
    }
    if legacy_key::is_legacy_encrypted(&text) {
        let password = password.ok_or_else(|| {
            file_err(path, "the key is encrypted and no password is set (SSL_PWD_PLAINTEXT or SSL_PWD_CIPHERTEXT)")
        })?;
        return legacy_key::decrypt(&text, password).map_err(|e| file_err(path, e));
    }
    PrivateKeyDer::from_pem_slice(&data).map_err(|e| match e {
        PemError::NoItemsFound => file_err(path, "no private key in the file"),
        e => file_err(path, format!("bad PEM: {e}")),
    })
}

/// The `decrypt_pwd` callback: ciphertext in, plaintext or the reason it failed out.
pub type DecryptPwd = dyn Fn(&str) -> Result<String, String>;

/// The key passphrase from SSL_PWD_PLAINTEXT, or SSL_PWD_CIPHERTEXT opened by the
/// `decrypt_pwd` callback (which returns the plaintext or why it failed). Setting both is an
/// error, as in DCF.
pub fn resolve_key_password(
    plaintext: Option<&str>,
    ciphertext: Option<&str>,
    decrypt: Option<&DecryptPwd>,
) -> Result<Option<String>, TransportError> {
    let plaintext = plaintext.filter(|p| !p.is_empty());
    let ciphertext = ciphertext.filter(|c| !c.is_empty());
    match (plaintext, ciphertext) {
        (Some(_), Some(_)) => Err(TransportError::KeyPassword(
            "SSL_PWD_PLAINTEXT and SSL_PWD_CIPHERTEXT are both set".into(),
        )),
        (Some(p), None) => Ok(Some(p.to_string())),
        (None, Some(c)) => {
            let decrypt = decrypt.ok_or_else(|| {
                TransportError::KeyPassword(
                    "SSL_PWD_CIPHERTEXT is set but no decrypt_pwd callback is registered".into(),
                )
            })?;
            decrypt(c)
                .map(Some)
                .map_err(|e| TransportError::KeyPassword(format!("decrypt_pwd failed: {e}")))
        }
        (None, None) => Ok(None),
    }
}

/// Warnings for certificates in `paths` that have expired or expire within `notify_days`.
pub fn cert_expiry_warnings(paths: &[&Path], notify_days: u32, now: SystemTime) -> Vec<String> {
    let now = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let horizon = now + i64::from(notify_days) * 86_400;
    let mut out = Vec::new();
    for path in paths {
        let Ok(certs) = load_certs(path) else {
            continue;
        };
        for der in certs {
            let Ok(cert) = Certificate::from_der(&der) else {
                continue;
            };
            let tbs = &cert.tbs_certificate;
            let not_after = tbs.validity.not_after.to_unix_duration().as_secs() as i64;
            let subject = tbs.subject.to_string();
            if not_after <= now {
                out.push(format!(
                    "certificate {} ({subject}) has expired",
                    path.display()
                ));
            } else if not_after <= horizon {
                out.push(format!(
                    "certificate {} ({subject}) expires in {} days (SSL_CERT_NOTIFY_TIME is {notify_days})",
                    path.display(),
                    (not_after - now) / 86_400
                ));
            }
        }
    }
    out
}

fn permission_notice(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o177 != 0).then(|| {
        format!(
            "TLS file {} has mode {:o}; it should be readable by its owner only (0600)",
            path.display(),
            mode & 0o777
        )
    })
}

/// A private key that its group or others may access is refused, as DCF does.
fn check_key_permissions(path: &Path) -> Result<(), TransportError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|e| file_err(path, e))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(file_err(
            path,
            format!(
                "the private key has mode {:o}: its group or others may access it; \
                 make it readable by its owner only (chmod 600)",
                mode & 0o777
            ),
        ));
    }
    Ok(())
}

/// Overwrites a secret before its memory is freed.
pub fn wipe(secret: String) {
    let mut bytes = secret.into_bytes();
    bytes.fill(0);
    // Keeps the optimiser from eliding the zeroing as a dead store before deallocation.
    std::hint::black_box(&bytes);
}

/// Builds both sides' configurations from the settings for node `me`; `now` dates the
/// expiry check.
pub fn build(
    settings: &TlsSettings,
    me: crate::types::NodeId,
    now: SystemTime,
) -> Result<CryptoConfigs, TransportError> {
    let provider = provider();
    let set =
        |p: &Option<std::path::PathBuf>| p.as_ref().filter(|p| !p.as_os_str().is_empty()).cloned();
    let (ca, cert, key) = (set(&settings.ca), set(&settings.cert), set(&settings.key));
    let mut notices = Vec::new();
    let (server, client) = match (ca, cert, key) {
        (Some(ca), Some(cert), Some(key)) => {
            check_key_permissions(&key)?;
            for path in [&ca, &cert] {
                notices.extend(permission_notice(path).map(|m| (Level::Warn, m)));
            }
            for w in cert_expiry_warnings(&[&cert, &ca], settings.cert_notify_days, now) {
                notices.push((Level::Warn, w));
            }
            let mut roots = RootCertStore::empty();
            for c in load_certs(&ca)? {
                roots
                    .add(c)
                    .map_err(|e| file_err(&ca, format!("unusable CA: {e}")))?;
            }
            let roots = Arc::new(roots);
            let crls = match set(&settings.crl) {
                Some(crl) => load_crls(&crl)?,
                None => Vec::new(),
            };
            let chain = load_certs(&cert)?;
            match crate::transport::identity::check_own_certificate(&chain, me) {
                Ok(warning) => notices.extend(warning.map(|w| (Level::Warn, w))),
                Err(e) => return Err(file_err(&cert, e)),
            }
            let key = load_private_key(&key, settings.key_password.as_deref())?;
            mutual(&provider, roots, crls, chain, key)?
        }
        (None, None, None) => {
            notices.push((
                Level::Warn,
                "SSL_CA, SSL_CERT and SSL_KEY are not set: traffic is encrypted with an \
                 ephemeral self-signed certificate but peers are NOT authenticated"
                    .to_string(),
            ));
            ephemeral(&provider)?
        }
        _ => {
            return Err(TransportError::Tls(
                "SSL_CA, SSL_CERT and SSL_KEY must be set together".into(),
            ))
        }
    };
    Ok(CryptoConfigs {
        server: Arc::new(
            QuicServerConfig::try_from(server).map_err(|e| TransportError::Tls(e.to_string()))?,
        ),
        client: Arc::new(
            QuicClientConfig::try_from(client).map_err(|e| TransportError::Tls(e.to_string()))?,
        ),
        notices,
    })
}

fn tls_err(e: impl std::fmt::Display) -> TransportError {
    TransportError::Tls(e.to_string())
}

fn mutual(
    provider: &Arc<CryptoProvider>,
    roots: Arc<RootCertStore>,
    crls: Vec<CertificateRevocationListDer<'static>>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<(rustls::ServerConfig, rustls::ClientConfig), TransportError> {
    // Only the end entity is checked against the CRLs, as OpenSSL's CRL_CHECK does; a
    // certificate that a configured CRL does not cover is not refused for that.
    let client_verifier =
        WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
            .with_crls(crls.clone())
            .only_check_end_entity_revocation()
            .allow_unknown_revocation_status()
            .build()
            .map_err(tls_err)?;
    let server_verifier = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
        .with_crls(crls)
        .only_check_end_entity_revocation()
        .allow_unknown_revocation_status()
        .build()
        .map_err(tls_err)?;
    let mut server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(tls_err)?
        .with_client_cert_verifier(client_verifier)
        .with_single_cert(chain.clone(), key.clone_key())
        .map_err(|e| TransportError::Tls(format!("certificate and key do not match: {e}")))?;
    let mut client = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(tls_err)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyNameVerifier(server_verifier)))
        .with_client_auth_cert(chain, key)
        .map_err(|e| TransportError::Tls(format!("certificate and key do not match: {e}")))?;
    server.alpn_protocols = vec![ALPN.to_vec()];
    client.alpn_protocols = vec![ALPN.to_vec()];
    Ok((server, client))
}

fn ephemeral(
    provider: &Arc<CryptoProvider>,
) -> Result<(rustls::ServerConfig, rustls::ClientConfig), TransportError> {
    let generated = rcgen::generate_simple_self_signed(vec![SERVER_NAME.to_string()])
        .map_err(|e| TransportError::Tls(format!("cannot generate a certificate: {e}")))?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(generated.key_pair.serialize_der()));
    let mut server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(tls_err)?
        .with_no_client_auth()
        .with_single_cert(vec![generated.cert.der().clone()], key)
        .map_err(tls_err)?;
    let mut client = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(tls_err)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertVerifier(provider.clone())))
        .with_no_client_auth();
    server.alpn_protocols = vec![ALPN.to_vec()];
    client.alpn_protocols = vec![ALPN.to_vec()];
    Ok((server, client))
}

/// Full chain and CRL verification against the CA, without the host name check: node
/// certificates name hosts, not the addresses they are dialed at. The name is checked last
/// by the inner verifier, so a name error means everything else passed.
#[derive(Debug)]
struct AnyNameVerifier(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyNameVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// Unauthenticated mode: any certificate, but the handshake signature is still verified so
/// the session keys belong to whoever holds that certificate's key.
#[derive(Debug)]
struct AnyCertVerifier(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertVerifier {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
