//! TLS: certificate files, the key password and the expiry notice.

use std::path::PathBuf;

use super::{path, ParamDef, Setter};
use crate::config::error::ParamError;

pub(super) static PARAMS: &[ParamDef] = &[
    ParamDef {
        name: "SSL_CA",
        set_format: "path, at most 255 bytes",
        get_format: "path",
        default: "",
        setter: Setter::Text {
            max_len: 255,
            apply: |p, v| {
                p.ssl_ca = PathBuf::from(v);
                Ok(())
            },
        },
        render: |p| path(&p.ssl_ca),
    },
    ParamDef {
        name: "SSL_KEY",
        set_format: "path, at most 255 bytes",
        get_format: "path",
        default: "",
        setter: Setter::Text {
            max_len: 255,
            apply: |p, v| {
                p.ssl_key = PathBuf::from(v);
                Ok(())
            },
        },
        render: |p| path(&p.ssl_key),
    },
    ParamDef {
        name: "SSL_CERT",
        set_format: "path, at most 255 bytes",
        get_format: "path",
        default: "",
        setter: Setter::Text {
            max_len: 255,
            apply: |p, v| {
                p.ssl_cert = PathBuf::from(v);
                Ok(())
            },
        },
        render: |p| path(&p.ssl_cert),
    },
    ParamDef {
        name: "SSL_CRL",
        set_format: "path, at most 255 bytes",
        get_format: "path",
        default: "",
        setter: Setter::Text {
            max_len: 255,
            apply: |p, v| {
                p.ssl_crl = PathBuf::from(v);
                Ok(())
            },
        },
        render: |p| path(&p.ssl_crl),
    },
    ParamDef {
        name: "SSL_CIPHER",
        set_format: "':'-separated cipher list, at most 1023 bytes (names checked at start)",
        get_format: "string",
        default: "",
        setter: Setter::Text {
            max_len: 1023,
            apply: |p, v| {
                p.ssl_cipher = v.to_string();
                Ok(())
            },
        },
        render: |p| Some(p.ssl_cipher.clone()),
    },
    ParamDef {
        name: "SSL_PWD_PLAINTEXT",
        set_format: "key passphrase, at most 64 bytes; refused while SSL_PWD_CIPHERTEXT is set",
        get_format: "write-only (get fails)",
        default: "",
        setter: Setter::Secret { max_len: 64 },
        render: |_| None,
    },
    ParamDef {
        name: "SSL_PWD_CIPHERTEXT",
        set_format: "ciphertext, at most 511 bytes; refused while SSL_PWD_PLAINTEXT is set",
        get_format: "string",
        default: "",
        setter: Setter::Text {
            max_len: 511,
            apply: |p, v| {
                if p.ssl_pwd_plaintext.is_some() {
                    return Err(ParamError::Conflict {
                        name: "SSL_PWD_CIPHERTEXT",
                        other: "SSL_PWD_PLAINTEXT",
                    });
                }
                p.ssl_pwd_ciphertext = v.to_string();
                Ok(())
            },
        },
        render: |p| Some(p.ssl_pwd_ciphertext.clone()),
    },
    ParamDef {
        name: "SSL_CERT_NOTIFY_TIME",
        set_format: "days, 7..=180",
        get_format: "days",
        default: "30",
        setter: Setter::Number {
            min: 7,
            max: 180,
            apply: |p, n| {
                p.ssl_cert_notify_time = n as u32;
                Ok(())
            },
        },
        render: |p| Some(p.ssl_cert_notify_time.to_string()),
    },
];
