//! The token table (docs/api.md#tokens-and-roles): who a bearer token is. Tokens are stored as SHA-256 hashes and
//! compared in constant time; a stored token keeps its caller across reloads, so a revoked one
//! can be told apart (open streams end). A leaf: HTTP, the state and the store's writes are
//! elsewhere.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use switchyard_core::Role;

use crate::store::TokenRecord;

/// The authenticated caller of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The token's name: the actor in the audit trail.
    pub name: String,
    /// The token's role.
    pub role: Role,
}

/// SHA-256 of a token. Tokens are random and long, so a fast hash is enough: there is no
/// password to guess.
pub fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new random token (`sy_` + 256 bits in hex) and its id (64 bits in hex).
pub fn generate_token() -> Result<(String, String), getrandom::Error> {
    let mut secret = [0u8; 32];
    let mut id = [0u8; 8];
    getrandom::fill(&mut secret)?;
    getrandom::fill(&mut id)?;
    Ok((format!("sy_{}", hex(&secret)), hex(&id)))
}

/// A SHA-256 hash as four words: a constant-time comparison of 4 words, not 32 bytes.
type Words = [u64; 4];

fn words(hash: [u8; 32]) -> Words {
    std::array::from_fn(|i| {
        let mut word = [0u8; 8];
        word.copy_from_slice(&hash[i * 8..i * 8 + 8]);
        u64::from_ne_bytes(word)
    })
}

struct Known {
    hash: Words,
    /// Shared, so admitting a request clones a pointer, not the name.
    caller: Arc<Caller>,
}

/// Every token the server accepts: bootstrap tokens from the environment plus the store's.
pub struct Tokens {
    bootstrap: Vec<Known>,
    known: ArcSwap<Vec<Known>>,
    /// Bumped whenever the stored set changes (a token created or revoked), so open streams
    /// can check that their caller is still admitted.
    changed: tokio::sync::watch::Sender<u64>,
    /// Bumped with `changed`, read on every request (see [`Tokens::generation`]).
    generation: AtomicU64,
}

impl Tokens {
    /// Bootstrap tokens (from `SWITCHYARD_ADMIN_TOKEN` / `SWITCHYARD_SDK_TOKEN`), hashed at once.
    pub fn new(admin: Option<&str>, sdk: Option<&str>) -> Self {
        let mut bootstrap = Vec::new();
        for (token, name, role) in [
            (admin, "env-admin", Role::Admin),
            (sdk, "env-sdk", Role::Sdk),
        ] {
            if let Some(token) = token {
                bootstrap.push(Known {
                    hash: words(hash_token(token)),
                    caller: Arc::new(Caller {
                        name: name.to_owned(),
                        role,
                    }),
                });
            }
        }
        Tokens {
            bootstrap,
            known: ArcSwap::from_pointee(Vec::new()),
            changed: tokio::sync::watch::channel(0).0,
            generation: AtomicU64::new(0),
        }
    }

    /// Replaces the stored tokens (after a load or a token change). A token that stays keeps
    /// its caller (the same `Arc`), so [`Tokens::admits`] can tell a kept token from a
    /// revoked one; when the set changes, [`Tokens::changes`] fires.
    pub fn set_stored(&self, records: &[TokenRecord]) {
        let old = self.known.load();
        // By hash, so a reload (after every write) stays linear in the number of tokens.
        let previous: std::collections::HashMap<Words, &Known> =
            old.iter().map(|k| (k.hash, k)).collect();
        let mut kept = 0;
        let known: Vec<Known> = records
            .iter()
            .filter_map(|r| {
                let bytes = (0..r.hash.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(r.hash.get(i..i + 2)?, 16).ok())
                    .collect::<Option<Vec<u8>>>()?;
                let hash = words(bytes.try_into().ok()?);
                let caller = match previous.get(&hash) {
                    Some(k) if k.caller.name == r.name && k.caller.role == r.role => {
                        kept += 1;
                        k.caller.clone()
                    }
                    _ => Arc::new(Caller {
                        name: r.name.clone(),
                        role: r.role,
                    }),
                };
                Some(Known { hash, caller })
            })
            .collect();
        let same = known.len() == old.len() && kept == known.len();
        self.known.store(Arc::new(known));
        if !same {
            self.generation.fetch_add(1, Ordering::AcqRel);
            self.changed.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// True when no token at all is accepted: every request will answer 401.
    pub fn is_empty(&self) -> bool {
        self.bootstrap.is_empty() && self.known.load().is_empty()
    }

    /// Grows whenever a stored token is created or revoked: what a caller remembered under an
    /// older generation must be verified again.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Fires whenever a stored token is created or revoked.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Whether `caller` (as [`Tokens::verify`] returned it) is still admitted: false once its
    /// token has been revoked.
    pub fn admits(&self, caller: &Arc<Caller>) -> bool {
        let stored = self.known.load();
        self.bootstrap
            .iter()
            .chain(stored.iter())
            .any(|k| Arc::ptr_eq(&k.caller, caller))
    }

    /// The caller `token` belongs to. Compares against every known hash in constant time
    /// and without stopping early, so timing says nothing about which hash came close.
    pub fn verify(&self, token: &str) -> Option<Arc<Caller>> {
        let hash = words(hash_token(token));
        let stored = self.known.load();
        let mut found = None;
        for known in self.bootstrap.iter().chain(stored.iter()) {
            if bool::from(known.hash.ct_eq(&hash)) {
                found = Some(known.caller.clone());
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_bootstrap_and_stored_tokens() {
        let tokens = Tokens::new(Some("admin-secret-0123456789"), None);
        let record = TokenRecord {
            id: "1".into(),
            name: "ci".into(),
            role: Role::Editor,
            hash: hex(&hash_token("stored-secret")),
            created_at: chrono::Utc::now(),
            created_by: "env-admin".into(),
        };
        tokens.set_stored(&[record]);
        let admin = tokens.verify("admin-secret-0123456789").unwrap();
        assert_eq!(
            (admin.name.as_str(), admin.role),
            ("env-admin", Role::Admin)
        );
        assert_eq!(tokens.verify("stored-secret").unwrap().role, Role::Editor);
        assert_eq!(tokens.verify("stored-secreT"), None);
        assert_eq!(tokens.verify(""), None);
    }

    #[test]
    fn a_revoked_token_is_no_longer_admitted_and_a_kept_one_is() {
        let tokens = Tokens::new(None, Some("sdk-secret-0123456789"));
        let record = |id: &str, secret: &str| TokenRecord {
            id: id.into(),
            name: format!("t{id}"),
            role: Role::Sdk,
            hash: hex(&hash_token(secret)),
            created_at: chrono::Utc::now(),
            created_by: "env-admin".into(),
        };
        let mut changes = tokens.changes();
        tokens.set_stored(&[record("1", "one"), record("2", "two")]);
        assert!(changes.has_changed().unwrap());
        changes.mark_unchanged();
        let (one, two) = (tokens.verify("one").unwrap(), tokens.verify("two").unwrap());
        let env = tokens.verify("sdk-secret-0123456789").unwrap();
        // The same set again: nothing changed, both still admitted.
        tokens.set_stored(&[record("1", "one"), record("2", "two")]);
        assert!(!changes.has_changed().unwrap());
        assert!(tokens.admits(&one) && tokens.admits(&two) && tokens.admits(&env));
        // Token 2 revoked.
        tokens.set_stored(&[record("1", "one")]);
        assert!(changes.has_changed().unwrap());
        assert!(tokens.admits(&one) && !tokens.admits(&two) && tokens.admits(&env));
    }
}
