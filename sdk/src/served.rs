//! The snapshot a client serves, with a counter of exposures per flag and variant beside it
//! (one relaxed atomic add per evaluation).

use std::sync::atomic::{AtomicU64, Ordering};

use switchyard_core::{Snapshot, Variant};

/// A snapshot and its exposure counters, served together.
pub(crate) struct Served {
    pub(crate) snapshot: Snapshot,
    /// Per flag of the snapshot, in its order: exposures to [on, off].
    exposures: Box<[[AtomicU64; 2]]>,
}

fn slot(variant: Variant) -> usize {
    match variant {
        Variant::On => 0,
        Variant::Off => 1,
    }
}

impl Served {
    /// `snapshot` with zeroed counters.
    pub(crate) fn new(snapshot: Snapshot) -> Self {
        let exposures = (0..snapshot.len())
            .map(|_| [AtomicU64::new(0), AtomicU64::new(0)])
            .collect();
        Served {
            snapshot,
            exposures,
        }
    }

    /// Counts one evaluation of the flag at `index` that gave `variant`.
    pub(crate) fn expose(&self, index: usize, variant: Variant) {
        if let Some(cells) = self.exposures.get(index) {
            cells[slot(variant)].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Hands every count so far to `each` (flag, variant, count), zeroing it.
    pub(crate) fn drain(&self, mut each: impl FnMut(&str, Variant, u64)) {
        for (flag, cells) in self.snapshot.flags().zip(self.exposures.iter()) {
            for (variant, cell) in [Variant::On, Variant::Off].into_iter().zip(cells) {
                let n = cell.swap(0, Ordering::Relaxed);
                if n > 0 {
                    each(&flag.key, variant, n);
                }
            }
        }
    }
}
