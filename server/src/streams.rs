//! Stream admission: how many `/v1/stream` connections each token holds, capped per token
//! (`SWITCHYARD_LIMITS__STREAMS_PER_TOKEN`), so one leaked client cannot take every socket.

use std::collections::HashMap;
use std::sync::Mutex;

use prometheus::{IntCounter, IntGauge};

use crate::error::ApiError;

/// Open streams per token name.
pub struct StreamSlots {
    cap: usize,
    /// A std Mutex: it is never held across an await.
    open: Mutex<HashMap<String, usize>>,
    /// Open streams in all (`switchyard_stream_clients`).
    clients: IntGauge,
    /// Streams refused at the cap (`switchyard_stream_rejections_total`).
    rejections: IntCounter,
}

impl StreamSlots {
    /// At most `cap` streams per token, counted in `clients`; refusals in `rejections`.
    pub fn new(cap: usize, clients: IntGauge, rejections: IntCounter) -> Self {
        StreamSlots {
            cap,
            open: Mutex::new(HashMap::new()),
            clients,
            rejections,
        }
    }

    /// Counts one more open stream for token `name`, or refuses it past the cap. Every
    /// admitted stream is given back with [`StreamSlots::close`].
    pub fn open(&self, name: &str) -> Result<(), ApiError> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let held = open.entry(name.to_owned()).or_default();
        if *held >= self.cap {
            self.rejections.inc();
            return Err(ApiError::TooManyStreams(self.cap));
        }
        *held += 1;
        self.clients.inc();
        Ok(())
    }

    /// Gives back a stream counted by [`StreamSlots::open`].
    pub fn close(&self, name: &str) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(held) = open.get_mut(name) {
            *held -= 1;
            if *held == 0 {
                open.remove(name);
            }
        }
        self.clients.dec();
    }
}
