//! One commit applied to the redb tables inside its write transaction: every version check,
//! then the flags, segments, history (with its shared whitelists), kill switch, tokens,
//! audit entries and their indexes, and the revision.

use super::*;

/// The shared whitelists of history versions and their reference counts, in one write.
struct Shared<'t> {
    users: redb::Table<'t, (&'static str, &'static str), &'static [u8]>,
    refs: redb::Table<'t, (&'static str, &'static str), u64>,
}

impl Shared<'_> {
    /// One more version refers to the shared whitelist `id` of `key`.
    fn share(&mut self, key: &str, id: &str, users: &[u8]) -> Result<(), StoreError> {
        let refs = self
            .refs
            .get((key, id))
            .map_err(db_err)?
            .map_or(0, |g| g.value());
        if refs == 0 {
            self.users.insert((key, id), users).map_err(db_err)?;
        }
        self.refs.insert((key, id), refs + 1).map_err(db_err)?;
        Ok(())
    }

    /// One version less refers to it; the last one takes it along.
    fn unshare(&mut self, key: &str, id: &str) -> Result<(), StoreError> {
        let refs = self
            .refs
            .get((key, id))
            .map_err(db_err)?
            .map_or(0, |g| g.value());
        if refs <= 1 {
            self.refs.remove((key, id)).map_err(db_err)?;
            self.users.remove((key, id)).map_err(db_err)?;
        } else {
            self.refs.insert((key, id), refs - 1).map_err(db_err)?;
        }
        Ok(())
    }
}

/// The version of segment `key` as stored (`None`: there is none).
fn segment_version(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &str,
) -> Result<Option<u64>, StoreError> {
    match table.get(key).map_err(db_err)? {
        Some(bytes) => Ok(Some(decode::<Segment>(bytes.value())?.version)),
        None => Ok(None),
    }
}

pub(super) fn apply(
    txn: &redb::WriteTransaction,
    commit: Commit,
    history_limit: HistoryLimit,
) -> Result<u64, StoreError> {
    let mut flags = txn.open_table(FLAGS).map_err(db_err)?;
    let mut history = txn.open_table(HISTORY).map_err(db_err)?;
    let mut shared = Shared {
        users: txn.open_table(SHARED).map_err(db_err)?,
        refs: txn.open_table(SHARED_REFS).map_err(db_err)?,
    };
    let mut segments = txn.open_table(SEGMENTS).map_err(db_err)?;
    let mut tokens = txn.open_table(TOKENS).map_err(db_err)?;
    let mut meta = txn.open_table(META).map_err(db_err)?;
    let mut audit = txn.open_table(AUDIT).map_err(db_err)?;
    let mut audit_by = txn.open_table(AUDIT_BY).map_err(db_err)?;
    for change in commit.writes {
        match change {
            Write::PutFlag { flag, expected } => {
                let current = match flags.get(flag.key.as_str()).map_err(db_err)? {
                    Some(bytes) => Some(decode::<Flag>(bytes.value())?.version),
                    None => None,
                };
                if current != expected {
                    return Err(StoreError::Conflict {
                        key: flag.key,
                        expected,
                        current,
                    });
                }
                let bytes = encode(&flag);
                flags
                    .insert(flag.key.as_str(), bytes.as_slice())
                    .map_err(db_err)?;
                let key = flag.key.as_str();
                let version = versions::store(&flag);
                if let Some((id, users)) = &version.whitelist {
                    shared.share(key, id, users)?;
                }
                history
                    .insert((key, flag.version), version.record.as_slice())
                    .map_err(db_err)?;
                if let Some(keep) = history_limit
                    && let Some(oldest_kept) = (flag.version + 1).checked_sub(keep.get() as u64)
                {
                    let mut dropped = Vec::new();
                    for row in history
                        .range((key, 0)..(key, oldest_kept))
                        .map_err(db_err)?
                    {
                        let (k, record) = row.map_err(db_err)?;
                        dropped.push((k.value().1, versions::shared_whitelist(record.value())?));
                    }
                    for (old, whitelist) in dropped {
                        history.remove((key, old)).map_err(db_err)?;
                        if let Some(id) = whitelist {
                            shared.unshare(key, &id)?;
                        }
                    }
                }
            }
            Write::DeleteFlag { key, expected } => {
                let current = match flags.get(key.as_str()).map_err(db_err)? {
                    Some(bytes) => Some(decode::<Flag>(bytes.value())?.version),
                    None => None,
                };
                if current != Some(expected) {
                    return Err(StoreError::Conflict {
                        key,
                        expected: Some(expected),
                        current,
                    });
                }
                flags.remove(key.as_str()).map_err(db_err)?;
            }
            Write::PutSegment { segment, expected } => {
                let current = segment_version(&segments, &segment.key)?;
                if current != expected {
                    return Err(StoreError::Conflict {
                        key: segment.key,
                        expected,
                        current,
                    });
                }
                segments
                    .insert(segment.key.as_str(), encode(&segment).as_slice())
                    .map_err(db_err)?;
            }
            Write::DeleteSegment { key, expected } => {
                let current = segment_version(&segments, &key)?;
                if current != Some(expected) {
                    return Err(StoreError::Conflict {
                        key,
                        expected: Some(expected),
                        current,
                    });
                }
                segments.remove(key.as_str()).map_err(db_err)?;
            }
            Write::SetGlobalKillSwitch(switch) => {
                meta.insert(KILL_SWITCH, encode(&switch).as_slice())
                    .map_err(db_err)?;
            }
            Write::CreateToken(record) => {
                for entry in tokens.iter().map_err(db_err)? {
                    let (_, bytes) = entry.map_err(db_err)?;
                    if decode::<TokenRecord>(bytes.value())?.name == record.name {
                        return Err(StoreError::Token(format!(
                            "a token named {:?} exists already",
                            record.name
                        )));
                    }
                }
                tokens
                    .insert(record.id.as_str(), encode(&record).as_slice())
                    .map_err(db_err)?;
            }
            Write::RevokeToken { id } => {
                if tokens.remove(id.as_str()).map_err(db_err)?.is_none() {
                    return Err(StoreError::Token(format!("no token has id {id:?}")));
                }
            }
        }
    }
    let first_id = match audit.last().map_err(db_err)? {
        Some((id, _)) => id.value() + 1,
        None => 1,
    };
    for (id, mut entry) in (first_id..).zip(commit.audit) {
        entry.id = id;
        audit
            .insert(id, encode(&entry).as_slice())
            .map_err(db_err)?;
        index_entry(&mut audit_by, id, &entry)?;
    }
    let revision = read_revision(&meta)? + 1;
    meta.insert(REVISION, encode(&revision).as_slice())
        .map_err(db_err)?;
    Ok(revision)
}
