//! Tokens: issue one (the plain token answered once, its hash stored) and revoke one.

use chrono::Utc;
use serde::Serialize;
use switchyard_core::Role;

use super::{ChangeError, Writer, to_value};
use crate::store::{Commit, TokenRecord, Write};
use crate::tokens::{generate_token, hash_token, hex};

/// A new token, shown once.
#[derive(Debug, Serialize)]
pub struct IssuedToken {
    /// The record, without its hash.
    #[serde(flatten)]
    pub info: TokenInfo,
    /// The token itself: shown this once, never stored.
    pub token: String,
}

/// A token as listed: never its hash.
#[derive(Debug, Serialize)]
pub struct TokenInfo {
    /// Id to revoke it by.
    pub id: String,
    /// Its name (the audit actor).
    pub name: String,
    /// Its role.
    pub role: Role,
    /// When it was created.
    pub created_at: chrono::DateTime<Utc>,
    /// Who created it.
    pub created_by: String,
}

impl From<&TokenRecord> for TokenInfo {
    fn from(r: &TokenRecord) -> Self {
        TokenInfo {
            id: r.id.clone(),
            name: r.name.clone(),
            role: r.role,
            created_at: r.created_at,
            created_by: r.created_by.clone(),
        }
    }
}

impl Writer<'_> {
    /// Issues a token: the plain token is in the answer, only its hash is stored.
    pub async fn create_token(&self, name: &str, role: Role) -> Result<IssuedToken, ChangeError> {
        let valid_name = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !valid_name || name.starts_with("env-") {
            return Err(ChangeError::BadInput(format!(
                "token name {name:?}: use 1 to 64 letters, digits, '.', '_' or '-', not \
                 starting with \"env-\" (kept for the bootstrap tokens)"
            )));
        }
        let (token, id) =
            generate_token().map_err(|e| ChangeError::Internal(format!("no randomness: {e}")))?;
        let record = TokenRecord {
            id,
            name: name.to_owned(),
            role,
            hash: hex(&hash_token(&token)),
            created_at: Utc::now(),
            created_by: self.actor.to_owned(),
        };
        let info = TokenInfo::from(&record);
        let entry = self.audit("token.create", None, None, Some(to_value(&info)), None);
        let commit = Commit {
            writes: vec![Write::CreateToken(record)],
            audit: vec![entry],
        };
        self.commit(commit).await?;
        Ok(IssuedToken { info, token })
    }

    /// Revokes a stored token by id.
    pub async fn revoke_token(&self, id: &str) -> Result<(), ChangeError> {
        let records = self.changes.store.tokens().await?;
        let Some(record) = records.iter().find(|r| r.id == id) else {
            return Err(ChangeError::NotFound(format!("no token has id {id:?}")));
        };
        let before = to_value(&TokenInfo::from(record));
        let commit = Commit {
            writes: vec![Write::RevokeToken { id: id.to_owned() }],
            audit: vec![self.audit("token.revoke", None, Some(before), None, None)],
        };
        self.commit(commit).await
    }
}
