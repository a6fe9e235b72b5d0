//! Accounts and their root access keys (`coffer admin create-account`, the first start).
//!
//! The first account created on an installation is its *administrator account*: its root may
//! create further accounts through the admin API.

use coffer_crypto::digest::hex;
use coffer_crypto::{SecretBytes, random};
use coffer_store::{Expect, Write, tables};

use crate::records::{AccessKeyRecord, AccountRecord};
use crate::{AKID_ALPHABET, Iam, IamError, NewAccessKey, SECRET_ALPHABET, access_key_purpose, encode, is_account_id};

const ADMIN_ACCOUNT: &str = "admin-account";

impl Iam {
    /// Generates a long-term access key record for `account` (`user` None = the root).
    pub(crate) fn new_access_key(&self, account: &str, user: Option<&str>) -> (AccessKeyRecord, NewAccessKey) {
        let akid = format!("AKIA{}", random::from_alphabet(AKID_ALPHABET, 16));
        let secret = SecretBytes::new(random::from_alphabet(SECRET_ALPHABET, 40).into_bytes());
        let rec = AccessKeyRecord {
            access_key_id: akid.clone(),
            account_id: account.to_string(),
            user_name: user.map(str::to_owned),
            status: "Active".into(),
            created_ms: self.now_ms(),
            secret_sealed: hex(&self.root.seal(&access_key_purpose(&akid), secret.expose())),
        };
        (rec, NewAccessKey { access_key_id: akid, secret_access_key: secret })
    }

    /// Creates an account (random 12-digit id unless one is given) with one root access key.
    /// The first account of an installation becomes its administrator account.
    pub async fn create_account(&self, account_id: Option<&str>) -> Result<(String, NewAccessKey), IamError> {
        let account_id = match account_id {
            Some(a) if is_account_id(a) => a.to_string(),
            Some(a) => return Err(IamError::InvalidInput(format!("An account id must be 12 digits, not '{a}'."))),
            None => random::digits(12),
        };
        let first = self.read().accounts.is_empty();
        let account = AccountRecord { account_id: account_id.clone(), created_ms: self.now_ms() };
        let (rec, key) = self.new_access_key(&account_id, None);
        let mut batch = vec![
            Write::put(tables::ACCOUNTS, &account_id, "", encode(&account), Expect::Absent),
            Write::put(tables::ACCESS_KEYS, &rec.access_key_id, "", encode(&rec), Expect::Absent),
        ];
        if first {
            batch.push(Write::put(tables::META, ADMIN_ACCOUNT, "", account_id.clone().into_bytes(), Expect::Absent));
        }
        let id = account_id.clone();
        self.commit(batch, |i| if i == 0 { IamError::AccountExists(id) } else { IamError::Conflict("Account creation raced; retry.".into()) })
            .await?;
        let mut st = self.write_state();
        let cred = self.key_credential(&rec, &st)?;
        st.keys.insert(rec.access_key_id.clone(), std::sync::Arc::new(cred));
        st.key_records.insert(rec.access_key_id.clone(), (rec, 1));
        st.accounts.insert(account_id.clone(), account.created_ms);
        Ok((account_id, key))
    }

    /// The installation's administrator account (None in `--dev`, where every root is one).
    pub async fn admin_account(&self) -> Result<Option<String>, IamError> {
        Ok(self.store.get(tables::META, ADMIN_ACCOUNT, "").await?.map(|i| String::from_utf8_lossy(&i.value).into_owned()))
    }

    /// Whether `account`'s root may use the admin API.
    pub async fn is_admin(&self, account: &str) -> Result<bool, IamError> {
        if self.dev {
            return Ok(true);
        }
        Ok(self.admin_account().await?.as_deref() == Some(account))
    }
}
