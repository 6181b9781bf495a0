//! A certificate authority for tests: CA, node certificates (optionally with encrypted keys)
//! and revocation lists, generated with rcgen into a temporary directory. Never committed.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use dcf_runtime::transport::TlsSettings;
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, CertificateRevocationListParams, IsCa,
    KeyIdMethod, KeyPair, KeyUsagePurpose, RevokedCertParams, SerialNumber,
};

pub struct Ca {
    pub dir: tempfile::TempDir,
    pub cert: Certificate,
    pub key: KeyPair,
    pub path: PathBuf,
}

pub fn write_private(path: &Path, data: &[u8]) {
    std::fs::write(path, data).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let dir = tempfile::tempdir().unwrap();
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).unwrap();
        let path = dir.path().join("ca.pem");
        write_private(&path, cert.pem().as_bytes());
        Ca {
            dir,
            cert,
            key,
            path,
        }
    }

    /// A node certificate and key; the key is encrypted PKCS#8 when `password` is given.
    pub fn issue(&self, name: &str, serial: u64, password: Option<&str>) -> (PathBuf, PathBuf) {
        self.issue_for(KeyPair::generate().unwrap(), name, serial, password)
    }

    pub fn issue_for(
        &self,
        key: KeyPair,
        name: &str,
        serial: u64,
        password: Option<&str>,
    ) -> (PathBuf, PathBuf) {
        self.issue_with_names(key, name, serial, password, &[format!("{name}.example")])
    }

    /// A certificate whose subject alternative names are `names` (say `dcf-node-2`).
    pub fn issue_with_names(
        &self,
        key: KeyPair,
        name: &str,
        serial: u64,
        password: Option<&str>,
        names: &[String],
    ) -> (PathBuf, PathBuf) {
        let mut params = CertificateParams::new(names.to_vec()).unwrap();
        params.serial_number = Some(SerialNumber::from(serial));
        params.not_after = rcgen::date_time_ymd(2099, 1, 1);
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        let cert_path = self.dir.path().join(format!("{name}.crt"));
        let key_path = self.dir.path().join(format!("{name}.key"));
        write_private(&cert_path, cert.pem().as_bytes());
        let key_pem = match password {
            None => key.serialize_pem(),
            Some(pw) => encrypt_key(&key.serialize_der(), pw),
        };
        write_private(&key_path, key_pem.as_bytes());
        (cert_path, key_path)
    }

    pub fn crl(&self, revoked: &[u64]) -> PathBuf {
        let params = CertificateRevocationListParams {
            this_update: rcgen::date_time_ymd(2024, 1, 1),
            next_update: rcgen::date_time_ymd(2099, 1, 1),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|&s| RevokedCertParams {
                    serial_number: SerialNumber::from(s),
                    revocation_time: rcgen::date_time_ymd(2024, 1, 1),
                    reason_code: Some(rcgen::RevocationReason::KeyCompromise),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        let crl = params.signed_by(&self.cert, &self.key).unwrap();
        let path = self.dir.path().join("ca.crl");
        write_private(&path, crl.pem().unwrap().as_bytes());
        path
    }

    pub fn settings(
        &self,
        node: (PathBuf, PathBuf),
        crl: Option<PathBuf>,
        pw: Option<&str>,
    ) -> TlsSettings {
        TlsSettings {
            ca: Some(self.path.clone()),
            cert: Some(node.0),
            key: Some(node.1),
            crl,
            key_password: pw.map(str::to_string),
            cert_notify_days: 30,
        }
    }
}

pub fn encrypt_key(der: &[u8], password: &str) -> String {
    use pkcs8::pkcs5::pbes2;
    let info = pkcs8::PrivateKeyInfo::try_from(der).unwrap();
    let params = pbes2::Parameters::pbkdf2_sha256_aes256cbc(1000, b"saltsalt", &[7u8; 16]).unwrap();
    let doc = info.encrypt_with_params(params, password).unwrap();
    doc.to_pem("ENCRYPTED PRIVATE KEY", pkcs8::LineEnding::LF)
        .unwrap()
        .to_string()
}
