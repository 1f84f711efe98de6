//! The `slice` toxic on the write side: cuts each chunk into slices of drawn sizes, with a
//! drawn pause before each slice after the first.

use std::ops::Range;
use std::time::Duration;

use crate::proxy::chain::{DurationRange, SizeRange};
use crate::proxy::seed::ToxicRng;
use crate::proxy::stats::LiveFlow;

/// A `slice` toxic's state: the slice being written continues into the next chunk, so slice
/// boundaries sit at the same stream offsets however the stream was read.
pub(super) struct Slicer {
    size: SizeRange,
    delay: DurationRange,
    rng: ToxicRng,
    /// Bytes left of the current slice.
    left: u64,
    started: bool,
}

impl Slicer {
    /// A slicer that has cut nothing yet: its first slice comes without a pause.
    pub(super) fn new(size: SizeRange, delay: DurationRange, rng: ToxicRng) -> Slicer {
        Slicer {
            size,
            delay,
            rng,
            left: 0,
            started: false,
        }
    }

    /// Cuts `pieces` (ranges of the chunk, each with the pause before it) further.
    pub(super) fn cut(
        &mut self,
        pieces: Vec<(Range<usize>, Duration)>,
        flow: &LiveFlow,
    ) -> Vec<(Range<usize>, Duration)> {
        let mut out = Vec::with_capacity(pieces.len());
        for (range, mut gap) in pieces {
            let mut pos = range.start;
            while pos < range.end {
                if self.left == 0 {
                    if self.started {
                        gap += self.rng.duration(self.delay.min, self.delay.max);
                    }
                    self.started = true;
                    self.left = self.rng.in_range(self.size.min, self.size.max);
                    flow.slice_drawn(self.left);
                }
                let take = usize::try_from(self.left)
                    .map_or(range.end - pos, |left| left.min(range.end - pos));
                out.push((pos..pos + take, gap));
                gap = Duration::ZERO;
                pos += take;
                self.left -= take as u64;
            }
        }
        out
    }
}
