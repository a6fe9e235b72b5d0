//! SecureString: encrypting and decrypting values with Coffer's KMS, in-process, as the caller
//! (with `kms:ViaService = ssm.<region>.amazonaws.com`) and the encryption context
//! `{"PARAMETER_ARN": "<parameter ARN>"}`.
//!
//! - Standard tier: KMS `Encrypt` of the value; the stored value is the KMS ciphertext blob, so a
//!   client holding it can call KMS `Decrypt` with the same context.
//! - Advanced tier (values up to 8 KB, beyond KMS's 4 KB plaintext limit): KMS `GenerateDataKey`,
//!   then AES-256-GCM under the data key — the *parameter envelope* (docs/formats.md):
//!   `"CSE1" || u16 blob length || KMS blob || nonce(12) || ciphertext || tag(16)`, associated
//!   data `"coffer-ssm-envelope-v1\0" || parameter ARN`.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use coffer_crypto::{SecretBytes, SymmetricKey};
use coffer_kms::KmsError;
use coffer_kms::model::{Blob, DecryptRequest, EncryptRequest, GenerateDataKeyRequest, Plaintext};
use coffer_policy::Caller;

use crate::records::{Protection, VersionRecord};
use crate::{Ssm, SsmError};

const ENVELOPE_MAGIC: &[u8; 4] = b"CSE1";
const ENVELOPE_AAD: &[u8] = b"coffer-ssm-envelope-v1\0";

fn context(arn: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("PARAMETER_ARN".to_string(), arn.to_string())])
}

/// KMS's refusal as Parameter Store reports it on a write.
fn write_error(e: KmsError) -> SsmError {
    match e {
        KmsError::AccessDenied(m) => SsmError::AccessDenied(m),
        KmsError::Internal(m) => SsmError::Internal(m),
        other => SsmError::InvalidKeyId(format!(
            "{} (Service: AWSKMS; Status Code: 400; Error Code: {})",
            other.message(),
            other.code()
        )),
    }
}

/// KMS's refusal as Parameter Store reports it on a decrypting read.
fn read_error(e: KmsError) -> SsmError {
    match e {
        KmsError::AccessDenied(m) => SsmError::AccessDenied(format!(
            "{m} (Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException)"
        )),
        KmsError::Internal(m) => SsmError::Internal(m),
        other => SsmError::InvalidKeyId(format!(
            "{} (Service: AWSKMS; Status Code: 400; Error Code: {})",
            other.message(),
            other.code()
        )),
    }
}

impl Ssm {
    /// Encrypts `value` for the parameter `arn`, returning the stored (base64) form.
    pub(crate) async fn protect(
        &self,
        caller: &Caller,
        key_id: &str,
        arn: &str,
        value: &str,
        envelope: bool,
    ) -> Result<(String, Protection), SsmError> {
        let via = caller.via("ssm");
        if !envelope {
            let out = self
                .kms
                .encrypt(
                    &via,
                    EncryptRequest {
                        key_id: Some(key_id.to_string()),
                        plaintext: Some(Plaintext(SecretBytes::new(value.as_bytes().to_vec()))),
                        encryption_context: Some(context(arn)),
                        ..Default::default()
                    },
                )
                .await
                .map_err(write_error)?;
            return Ok((B64.encode(&out.ciphertext_blob.0), Protection::Kms));
        }
        let dk = self
            .kms
            .generate_data_key(
                &via,
                GenerateDataKeyRequest {
                    key_id: Some(key_id.to_string()),
                    key_spec: Some("AES_256".into()),
                    encryption_context: Some(context(arn)),
                    ..Default::default()
                },
            )
            .await
            .map_err(write_error)?;
        let plaintext = dk.plaintext.ok_or_else(|| SsmError::Internal("GenerateDataKey returned no plaintext".into()))?;
        let key = SymmetricKey::from_bytes(plaintext.0.expose()).map_err(|_| SsmError::Internal("bad data key".into()))?;
        let blob = dk.ciphertext_blob.0;
        let mut out = Vec::with_capacity(6 + blob.len() + value.len() + 28);
        out.extend_from_slice(ENVELOPE_MAGIC);
        out.extend_from_slice(&(blob.len() as u16).to_be_bytes());
        out.extend_from_slice(&blob);
        let mut aad = ENVELOPE_AAD.to_vec();
        aad.extend_from_slice(arn.as_bytes());
        key.seal_into(&aad, value.as_bytes(), &mut out).map_err(|_| SsmError::Internal("encryption failed".into()))?;
        Ok((B64.encode(&out), Protection::Envelope))
    }

    /// Decrypts a stored SecureString value. Not `Debug`-able output: the plaintext.
    pub(crate) async fn reveal(&self, caller: &Caller, v: &VersionRecord, arn: &str) -> Result<SecretBytes, SsmError> {
        let raw = B64.decode(&v.value).map_err(|_| SsmError::Internal("stored ciphertext is not base64".into()))?;
        let via = caller.via("ssm");
        let decrypt = |blob: Vec<u8>| DecryptRequest {
            ciphertext_blob: Some(Blob(blob)),
            encryption_context: Some(context(arn)),
            ..Default::default()
        };
        match v.protection {
            Some(Protection::Kms) | None => {
                let out = self.kms.decrypt(&via, decrypt(raw)).await.map_err(read_error)?;
                Ok(out.plaintext.0)
            }
            Some(Protection::Envelope) => {
                let bad = || SsmError::Internal("stored parameter envelope is malformed".into());
                if raw.len() < 6 || &raw[..4] != ENVELOPE_MAGIC {
                    return Err(bad());
                }
                let n = u16::from_be_bytes([raw[4], raw[5]]) as usize;
                if raw.len() < 6 + n {
                    return Err(bad());
                }
                let (blob, sealed) = raw[6..].split_at(n);
                let out = self.kms.decrypt(&via, decrypt(blob.to_vec())).await.map_err(read_error)?;
                let key = SymmetricKey::from_bytes(out.plaintext.0.expose()).map_err(|_| bad())?;
                let mut aad = ENVELOPE_AAD.to_vec();
                aad.extend_from_slice(arn.as_bytes());
                key.open(&aad, sealed).map_err(|_| bad())
            }
        }
    }
}
