//! TLS: mutual authentication against the CA, revocation, encrypted keys, expiry notices.
//! Certificates are generated here (rcgen), never committed.

mod skip;
mod tls_support;
mod transport_support;

use dcf_runtime::transport::{
    cert_expiry_warnings, resolve_key_password, Channel, TlsSettings, Transport, TransportError,
};
use rcgen::KeyPair;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tls_support::*;
use transport_support::*;

const MIB: usize = 1024 * 1024;

fn exchange(a: &Node, b: &Node) {
    a.transport
        .send(b.id, Channel::Control, frame(1, b"ping", &[]))
        .unwrap();
    b.transport
        .send(a.id, Channel::Data, frame(2, b"pong", &[b"x"]))
        .unwrap();
    b.rec.wait("ping", |r| r.count_from(a.id) >= 1);
    a.rec.wait("pong", |r| r.count_from(b.id) >= 1);
}

#[test]
fn mutual_tls_nodes_exchange_frames_with_an_encrypted_key() {
    let rt = runtime();
    let ca = Ca::new("cluster CA");
    let crl = ca.crl(&[99]);
    let a = Node::start(
        config(
            1,
            ca.settings(ca.issue("n1", 1, None), Some(crl.clone()), None),
            MIB,
        ),
        &rt,
    );
    let tls_b = ca.settings(ca.issue("n2", 2, Some("s3cret")), Some(crl), Some("s3cret"));
    let b = Node::start(config(2, tls_b, MIB), &rt);
    mesh(&[&a, &b]);
    exchange(&a, &b);
    assert!(!a.rec.has_log("NOT authenticated"));
    a.transport.shutdown();
    b.transport.shutdown();
}

#[test]
fn peer_with_a_certificate_from_another_ca_is_refused() {
    let rt = runtime();
    let ca = Ca::new("cluster CA");
    let rogue = Ca::new("rogue CA");
    let a = Node::start(
        config(1, ca.settings(ca.issue("n1", 1, None), None, None), MIB),
        &rt,
    );
    let b = Node::start(
        config(
            2,
            rogue.settings(rogue.issue("n2", 2, None), None, None),
            MIB,
        ),
        &rt,
    );
    let c = Node::start(
        config(3, ca.settings(ca.issue("n3", 3, None), None, None), MIB),
        &rt,
    );
    mesh(&[&a, &b, &c]);
    b.transport
        .send(1, Channel::Data, frame(1, b"intruder", &[]))
        .unwrap();
    exchange(&a, &c);
    a.rec
        .wait("a refuses b's certificate", |r| r.has_log("UnknownIssuer"));
    b.rec.wait("b fails to reach a", |r| {
        r.has_log("cannot connect to node 1")
    });
    assert!(!b.transport.is_connected(1) && !a.transport.is_connected(2));
    assert_eq!(a.rec.count_from(2), 0);
    for n in [&a, &b, &c] {
        n.transport.shutdown();
    }
}

#[test]
fn revoked_certificate_is_refused() {
    let rt = runtime();
    let ca = Ca::new("cluster CA");
    let crl = ca.crl(&[2]);
    let a = Node::start(
        config(
            1,
            ca.settings(ca.issue("n1", 1, None), Some(crl.clone()), None),
            MIB,
        ),
        &rt,
    );
    let b = Node::start(
        config(2, ca.settings(ca.issue("n2", 2, None), None, None), MIB),
        &rt,
    );
    let c = Node::start(
        config(
            3,
            ca.settings(ca.issue("n3", 3, None), Some(crl), None),
            MIB,
        ),
        &rt,
    );
    mesh(&[&a, &b, &c]);
    b.transport
        .send(1, Channel::Data, frame(1, b"revoked", &[]))
        .unwrap();
    exchange(&a, &c);
    a.rec.wait("a refuses the revoked certificate", |r| {
        r.has_log("Revoked")
    });
    assert!(!a.transport.is_connected(2));
    assert_eq!(a.rec.count_from(2), 0);
    for n in [&a, &b, &c] {
        n.transport.shutdown();
    }
}

#[test]
fn bad_tls_settings_fail_start_with_the_reason() {
    let rt = runtime();
    let ca = Ca::new("cluster CA");
    let start = |tls: TlsSettings| {
        Transport::start(
            config(1, tls, MIB),
            Arc::new(Recorder::default()),
            rt.handle(),
        )
        .err()
    };
    let encrypted = ca.issue("enc", 5, Some("right"));
    let err = start(ca.settings(encrypted.clone(), None, Some("wrong"))).unwrap();
    assert!(
        matches!(&err, TransportError::TlsFile { reason, .. } if reason.contains("decrypt")),
        "{err}"
    );
    let err = start(ca.settings(encrypted, None, None)).unwrap();
    assert!(err.to_string().contains("no password"), "{err}");
    let partial = TlsSettings {
        key: None,
        ..ca.settings(ca.issue("p", 6, None), None, None)
    };
    assert!(matches!(start(partial), Some(TransportError::Tls(_))));
    let missing = TlsSettings {
        ca: Some("/nonexistent/ca.pem".into()),
        ..ca.settings(ca.issue("m", 7, None), None, None)
    };
    assert!(start(missing)
        .unwrap()
        .to_string()
        .contains("/nonexistent/ca.pem"));
}

#[test]
fn key_password_comes_from_plaintext_or_the_decrypt_callback() {
    assert_eq!(
        resolve_key_password(Some("pw"), None, None)
            .unwrap()
            .as_deref(),
        Some("pw")
    );
    assert_eq!(resolve_key_password(None, Some(""), None).unwrap(), None);
    assert!(resolve_key_password(Some("a"), Some("b"), None).is_err());
    assert!(resolve_key_password(None, Some("c1pher"), None).is_err());
    let decrypt = |c: &str| -> Result<String, String> {
        if c == "c1pher" {
            Ok("plain".into())
        } else {
            Err("bad ciphertext".into())
        }
    };
    assert_eq!(
        resolve_key_password(None, Some("c1pher"), Some(&decrypt))
            .unwrap()
            .as_deref(),
        Some("plain")
    );
    assert!(resolve_key_password(None, Some("junk"), Some(&decrypt))
        .unwrap_err()
        .to_string()
        .contains("bad ciphertext"));
}

#[test]
fn expiry_within_the_notify_window_is_warned() {
    let ca = Ca::new("cluster CA");
    let (cert, _) = ca.issue("n1", 1, None); // not_after 2099-01-01
    let expiry = SystemTime::UNIX_EPOCH + Duration::from_secs(4_070_908_800);
    let day = Duration::from_secs(86_400);
    assert!(cert_expiry_warnings(&[&cert], 30, expiry - 40 * day).is_empty());
    let soon = cert_expiry_warnings(&[&cert], 30, expiry - 10 * day);
    assert_eq!(soon.len(), 1);
    assert!(soon[0].contains("expires in 10 days"), "{soon:?}");
    let past = cert_expiry_warnings(&[&cert], 30, expiry + day);
    assert!(past[0].contains("has expired"), "{past:?}");
}

fn openssl(args: &[&str]) {
    let status = std::process::Command::new("openssl")
        .args(args)
        .status()
        .unwrap();
    assert!(status.success(), "openssl {args:?} failed");
}

/// openGauss deployments often hold keys in OpenSSL's traditional encrypted PEM
/// (`openssl genrsa -aes256` before OpenSSL 3). Generated here with the openssl CLI.
#[test]
fn traditional_encrypted_pem_keys_open_with_the_password() {
    if std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_err()
    {
        skip::skipped("the openssl CLI is not installed");
        return;
    }
    let rt = runtime();
    let ca = Ca::new("cluster CA");
    let dir = ca.dir.path();
    let s = |p: &Path| p.to_str().unwrap().to_string();
    // Node 1: an EC key re-encrypted as traditional AES-256-CBC PEM.
    let n1 = ca.issue("n1", 1, None);
    let n1_legacy = dir.join("n1-legacy.key");
    openssl(&[
        "ec",
        "-in",
        &s(&n1.1),
        "-aes256",
        "-passout",
        "pass:old pw",
        "-out",
        &s(&n1_legacy),
    ]);
    // Node 2: an RSA key as `openssl genrsa -traditional -aes128` writes it.
    let n2_legacy = dir.join("n2-legacy.key");
    let n2_plain = dir.join("n2.p8");
    openssl(&[
        "genrsa",
        "-traditional",
        "-aes128",
        "-passout",
        "pass:old pw",
        "-out",
        &s(&n2_legacy),
        "2048",
    ]);
    openssl(&[
        "pkcs8",
        "-topk8",
        "-nocrypt",
        "-in",
        &s(&n2_legacy),
        "-passin",
        "pass:old pw",
        "-out",
        &s(&n2_plain),
    ]);
    let rsa = KeyPair::from_pem(&std::fs::read_to_string(&n2_plain).unwrap()).unwrap();
    let n2 = ca.issue_for(rsa, "n2", 2, None);
    for key in [&n1_legacy, &n2_legacy] {
        let pem = std::fs::read_to_string(key).unwrap();
        assert!(pem.contains("Proc-Type: 4,ENCRYPTED"), "{pem}");
        assert!(dcf_runtime::transport::load_private_key(key, Some("wrong")).is_err());
    }
    let a = Node::start(
        config(1, ca.settings((n1.0, n1_legacy), None, Some("old pw")), MIB),
        &rt,
    );
    let b = Node::start(
        config(2, ca.settings((n2.0, n2_legacy), None, Some("old pw")), MIB),
        &rt,
    );
    mesh(&[&a, &b]);
    exchange(&a, &b);
    a.transport.shutdown();
    b.transport.shutdown();
}
