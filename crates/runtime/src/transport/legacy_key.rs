//! Private keys in OpenSSL's traditional encrypted PEM format:
//!
//! ```text
//! -----BEGIN RSA PRIVATE KEY-----
//! Proc-Type: 4,ENCRYPTED
//! DEK-Info: AES-256-CBC,<hex IV>
//!
//! <base64>
//! -----END RSA PRIVATE KEY-----
//! ```
//!
//! This is what `openssl genrsa -aes256` wrote before OpenSSL 3, and what openGauss
//! deployments commonly hold as server.key. The key is derived with EVP_BytesToKey (MD5, one
//! round, salt = the first 8 bytes of the IV).

use aes::cipher::{block_padding::Pkcs7, BlockDecryptMut, KeyIvInit};
use md5::{Digest, Md5};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs1KeyDer, PrivateSec1KeyDer};

/// Whether `pem` holds a traditional encrypted key.
pub fn is_legacy_encrypted(pem: &str) -> bool {
    pem.contains("Proc-Type: 4,ENCRYPTED")
}

/// Decrypts the first PEM block of `pem`, a traditional encrypted key, with `password`.
pub fn decrypt(pem: &str, password: &str) -> Result<PrivateKeyDer<'static>, String> {
    let block = pem::parse(pem).map_err(|e| format!("bad PEM: {e}"))?;
    let label = block.tag();
    let (cipher, iv_hex) = block
        .headers()
        .get("DEK-Info")
        .ok_or("no DEK-Info header")?
        .split_once(',')
        .ok_or("bad DEK-Info header")?;
    let iv = hex(iv_hex.trim()).ok_or("bad IV in DEK-Info")?;
    let iv: [u8; 16] = iv.try_into().map_err(|_| "IV is not 16 bytes")?;
    let mut data = block.contents().to_vec();
    let key_len = match cipher.trim() {
        "AES-128-CBC" => 16,
        "AES-192-CBC" => 24,
        "AES-256-CBC" => 32,
        other => return Err(format!("unsupported key cipher {other} (use AES-CBC)")),
    };
    let key = bytes_to_key(password.as_bytes(), &iv[..8], key_len);
    let wrong = |_| "cannot decrypt the key (wrong password?)".to_string();
    let plain = match key_len {
        16 => cbc::Decryptor::<aes::Aes128>::new_from_slices(&key, &iv)
            .map_err(|e| e.to_string())?
            .decrypt_padded_mut::<Pkcs7>(&mut data)
            .map_err(wrong)?,
        24 => cbc::Decryptor::<aes::Aes192>::new_from_slices(&key, &iv)
            .map_err(|e| e.to_string())?
            .decrypt_padded_mut::<Pkcs7>(&mut data)
            .map_err(wrong)?,
        _ => cbc::Decryptor::<aes::Aes256>::new_from_slices(&key, &iv)
            .map_err(|e| e.to_string())?
            .decrypt_padded_mut::<Pkcs7>(&mut data)
            .map_err(wrong)?,
    }
    .to_vec();
    // A wrong password usually fails the padding check; when it does not, the DER is junk.
    if plain.first() != Some(&0x30) {
        return Err("cannot decrypt the key (wrong password?)".into());
    }
    match label {
        "RSA PRIVATE KEY" => Ok(PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(plain))),
        "EC PRIVATE KEY" => Ok(PrivateKeyDer::Sec1(PrivateSec1KeyDer::from(plain))),
        other => Err(format!("unsupported encrypted key type {other}")),
    }
}

/// OpenSSL's EVP_BytesToKey with MD5 and one iteration.
fn bytes_to_key(password: &[u8], salt: &[u8], len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 16);
    let mut prev: Vec<u8> = Vec::new();
    while out.len() < len {
        let mut h = Md5::new();
        h.update(&prev);
        h.update(password);
        h.update(salt);
        prev = h.finalize().to_vec();
        out.extend_from_slice(&prev);
    }
    out.truncate(len);
    out
}

fn hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_to_key_matches_openssl() {
        // `openssl enc -aes-128-cbc -k pw -S 0102030405060708 -md md5 -P -nosalt`-style
        // derivation: key = MD5(pw || salt).
        let key = bytes_to_key(b"pw", &[1, 2, 3, 4, 5, 6, 7, 8], 16);
        let mut h = Md5::new();
        h.update(b"pw");
        h.update([1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(key, h.finalize().to_vec());
        assert_eq!(bytes_to_key(b"pw", &[0; 8], 32).len(), 32);
    }

    #[test]
    fn malformed_blocks_are_errors() {
        assert!(decrypt("junk", "pw").is_err());
        let no_dek = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\nAAAA\n-----END RSA PRIVATE KEY-----\n";
        assert!(decrypt(no_dek, "pw").unwrap_err().contains("DEK-Info"));
        let des = no_dek.replace("\n\n", "\nDEK-Info: DES-EDE3-CBC,0011223344556677\n\n");
        assert!(decrypt(&des, "pw").is_err());
        let short = no_dek.replace("\n\n", "\nDEK-Info: AES-256-CBC,0011\n\n");
        assert!(decrypt(&short, "pw").unwrap_err().contains("IV"));
    }
}
