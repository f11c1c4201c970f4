//! The audit trail on Redis: a stream (`{p}:audit`, id `N-0`) with sorted-set indexes by
//! flag and by actor, built once for a stream written before they existed; queries walk an
//! index when they can and the stream otherwise.

use redis::AsyncCommands;

use super::{RedisStore, decode, unavailable};
use crate::store::{AuditEntry, AuditQuery, StoreError};

/// How many audit entries one XREVRANGE reads while filtering.
pub(super) const AUDIT_BATCH: usize = 500;

impl RedisStore {
    /// Whether the audit indexes cover the whole stream; builds them first when they do not
    /// (a stream written before they existed, once per deployment).
    pub(super) async fn audit_indexed(&self) -> Result<bool, StoreError> {
        let mut conn = self.conn()?;
        let marker = self.key("audit:indexed");
        if conn.exists(&marker).await.map_err(unavailable)? {
            return Ok(true);
        }
        let mut start = "-".to_owned();
        loop {
            let batch = self.audit_range(&start, "+", AUDIT_BATCH).await?;
            if batch.is_empty() {
                break;
            }
            let mut pipe = redis::pipe();
            for (id, entry) in &batch {
                if let Some(flag) = &entry.flag {
                    pipe.zadd(self.key(&format!("audit:flag:{flag}")), id, id);
                }
                pipe.zadd(self.key(&format!("audit:actor:{}", entry.actor)), id, id);
            }
            let () = pipe.query_async(&mut conn).await.map_err(unavailable)?;
            match batch.last() {
                Some((last, _)) if batch.len() == AUDIT_BATCH => start = format!("({last}-0"),
                _ => break,
            }
        }
        let () = conn.set(&marker, 1).await.map_err(unavailable)?;
        Ok(true)
    }

    /// Up to `count` audit entries from `start` to `end` (stream ids), oldest first.
    pub(super) async fn audit_range(
        &self,
        start: &str,
        end: &str,
        count: usize,
    ) -> Result<Vec<(u64, AuditEntry)>, StoreError> {
        let mut conn = self.conn()?;
        let rows: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
            .arg(self.key("audit"))
            .arg(start)
            .arg(end)
            .arg("COUNT")
            .arg(count)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        rows.into_iter().map(audit_row).collect()
    }

    /// A flag's or an actor's entries, newest first, through its index: reads only what it
    /// returns (and what the other filters drop).
    pub(super) async fn audit_by(
        &self,
        index: &str,
        query: &AuditQuery,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let mut conn = self.conn()?;
        let mut found = Vec::new();
        let mut max = match query.before {
            Some(before) => format!("({before}"),
            None => "+inf".to_owned(),
        };
        // When the index is the only filter, every entry read is returned: read the page.
        let only_index = query.since.is_none()
            && query.until.is_none()
            && (query.flag.is_none() || query.actor.is_none());
        let batch = if only_index {
            query.limit.clamp(1, AUDIT_BATCH)
        } else {
            AUDIT_BATCH
        };
        loop {
            let ids: Vec<u64> = redis::cmd("ZREVRANGEBYSCORE")
                .arg(index)
                .arg(&max)
                .arg("-inf")
                .arg("LIMIT")
                .arg(0)
                .arg(batch)
                .query_async(&mut conn)
                .await
                .map_err(unavailable)?;
            if ids.is_empty() {
                return Ok(found);
            }
            let mut pipe = redis::pipe();
            for id in &ids {
                let at = format!("{id}-0");
                pipe.cmd("XRANGE").arg(self.key("audit")).arg(&at).arg(&at);
            }
            let rows: Vec<Vec<(String, Vec<String>)>> =
                pipe.query_async(&mut conn).await.map_err(unavailable)?;
            for row in rows.into_iter().flatten() {
                let (_, entry) = audit_row(row)?;
                if query.matches(&entry) {
                    found.push(entry);
                    if found.len() >= query.limit {
                        return Ok(found);
                    }
                }
            }
            match ids.last() {
                Some(last) if ids.len() == batch => max = format!("({last}"),
                _ => return Ok(found),
            }
        }
    }

    /// Every entry, newest first, filtered as it is read (no flag or actor to index by).
    pub(super) async fn audit_scan(
        &self,
        query: &AuditQuery,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let mut conn = self.conn()?;
        let mut found = Vec::new();
        let mut end = match query.before {
            Some(before) => format!("({before}-0"),
            None => "+".to_owned(),
        };
        // Unfiltered, every entry read is returned: read no more than the page.
        let unfiltered = query.since.is_none() && query.until.is_none();
        let batch = if unfiltered {
            query.limit.clamp(1, AUDIT_BATCH)
        } else {
            AUDIT_BATCH
        };
        loop {
            let rows: Vec<(String, Vec<String>)> = redis::cmd("XREVRANGE")
                .arg(self.key("audit"))
                .arg(&end)
                .arg("-")
                .arg("COUNT")
                .arg(batch)
                .query_async(&mut conn)
                .await
                .map_err(unavailable)?;
            let exhausted = rows.len() < batch;
            let mut last_id = 0;
            for row in rows {
                let (id, entry) = audit_row(row)?;
                last_id = id;
                if query.matches(&entry) {
                    found.push(entry);
                    if found.len() >= query.limit {
                        return Ok(found);
                    }
                }
            }
            if exhausted || last_id <= 1 {
                return Ok(found);
            }
            end = format!("({last_id}-0");
        }
    }
}

/// One row of the audit stream as its id and entry.
fn audit_row((stream_id, fields): (String, Vec<String>)) -> Result<(u64, AuditEntry), StoreError> {
    let id: u64 = stream_id
        .split('-')
        .next()
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| StoreError::Corrupt(format!("audit id {stream_id:?}")))?;
    let Some(raw) = fields.get(1) else {
        return Err(StoreError::Corrupt(format!("audit entry {id} is empty")));
    };
    let mut entry: AuditEntry = decode(raw)?;
    entry.id = id;
    Ok((id, entry))
}
