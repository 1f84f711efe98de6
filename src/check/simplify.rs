//! Case-level simplifications, tried after proptest's shrinking has done what it can.
//!
//! proptest shrinks each part of a case on its own (a vector loses an element, a number halves),
//! which stalls where two parts must change together, or where a union of strategies cannot step
//! from one variant to a simpler one. These steps know what a case means: keep only the failing
//! connection, cut a payload to a prefix, drop a round, drop pauses, flatten a plan. Each is kept
//! only when the case still fails the same way, so the result is still a failing case.

use crate::case::{Case, ConnectionCase, Conversation, Hold, Payload, ReadPlan, WritePlan};

/// Largest payload for which suffixes are tried (they turn it into literal bytes).
const SUFFIX_LIMIT: usize = 64 * 1024;

/// Simpler variants of `case`, most promising first. `failing` names the connection that
/// diverged, after `received` bytes of its echo had come back intact: a prefix that ends just
/// past them keeps where it went wrong (the wrong byte, or the byte the server never echoed).
pub(crate) fn candidates(case: &Case, failing: &str, received: u64) -> Vec<Case> {
    let mut out = Vec::new();
    let Some(index) = case.connections.iter().position(|c| c.name == failing) else {
        return out;
    };
    // 1. Only the failing connection.
    if case.connections.len() > 1 {
        let mut alone = case.clone();
        alone.connections = vec![case.connections[index].clone()];
        alone.hold = None;
        out.push(alone);
        // Or drop one other connection (crossings and holds need two).
        for other in (0..case.connections.len()).filter(|&i| i != index) {
            out.push(without_connection(case, other));
        }
        // Or drop the connection that plays while another is held, the failing one playing
        // in its place: a stall behind a held connection needs the held one, not the one that
        // happened to play meanwhile (dropped alone, it takes the hold with it).
        if let Some(h) = case.hold.filter(|h| h.inner != index && h.outer != index) {
            let mut fewer = without_connection(case, h.inner);
            let shift = |k: usize| if k > h.inner { k - 1 } else { k };
            fewer.hold = Some(Hold {
                outer: shift(h.outer),
                inner: shift(index),
            });
            out.push(fewer);
        }
    }
    // No connection held for another.
    if case.hold.is_some() {
        out.push(Case {
            hold: None,
            ..case.clone()
        });
    }
    let with = |change: &dyn Fn(&mut ConnectionCase) -> bool| -> Option<Case> {
        let mut simpler = case.clone();
        change(&mut simpler.connections[index]).then_some(simpler)
    };
    // 2. The same bytes as one stream with a half-close: a server that loses bytes then shows
    //    it by closing early instead of leaving a reader waiting. An abort may be no part of
    //    the bug (a close of the same bytes), or need less of its echo read before the reset.
    out.extend(with(&|c| into_stream(&mut c.conversation)));
    out.extend(with(&|c| abort_into_close(&mut c.conversation)));
    if let Conversation::Abort { after, .. } = &case.connections[index].conversation {
        for to in [1, after / 2] {
            out.extend(with(&|c| reset_sooner(&mut c.conversation, to)));
        }
    }
    // 3. Fewer rounds.
    out.extend(with(&|c| drop_round(&mut c.conversation, true)));
    out.extend(with(&|c| drop_round(&mut c.conversation, false)));
    // 4. Shorter payloads: a prefix of each.
    let payloads = case.connections[index].conversation.payloads();
    // Where `received` falls: the payload, and the offset in it.
    let mut wrong_at = usize::try_from(received).ok();
    for (p, payload) in payloads.iter().enumerate() {
        let len = payload.len();
        let here = wrong_at.filter(|&at| at < len);
        wrong_at = wrong_at
            .and_then(|at| at.checked_sub(len))
            .filter(|_| here.is_none());
        let first_chunk = case.connections[index].write.chunks.first().copied();
        for new_len in prefix_lengths(len, first_chunk, here) {
            out.extend(with(&|c| truncate(&mut c.conversation, p, new_len)));
        }
        // A suffix keeps a bad byte near the end; only for payloads small enough to save as
        // literal bytes (a generated payload always starts at its stream's offset 0).
        if len <= SUFFIX_LIMIT {
            let mut skips = vec![len / 2, len / 4, len / 16, 1];
            skips.dedup();
            for skip in skips.into_iter().filter(|&s| s > 0 && s < len) {
                out.extend(with(&|c| drop_prefix(&mut c.conversation, p, skip)));
            }
        }
    }
    // The other connections' rounds after their first: a connection held open needs only
    // the message it holds with.
    for other in (0..case.connections.len()).filter(|&i| i != index) {
        let mut simpler = case.clone();
        if let Conversation::Interactive { messages } = &mut simpler.connections[other].conversation
        {
            if messages.len() > 1 {
                messages.truncate(1);
                out.push(simpler);
            }
        }
    }
    // The other connections' payloads, cut the same way: a bug between connections (bytes that
    // cross, a connection held while another waits) needs them, but seldom all their bytes.
    for other in (0..case.connections.len()).filter(|&i| i != index) {
        let payloads = case.connections[other].conversation.payloads();
        for (p, payload) in payloads.iter().enumerate() {
            for new_len in prefix_lengths(payload.len(), None, None) {
                let mut simpler = case.clone();
                if truncate(&mut simpler.connections[other].conversation, p, new_len) {
                    out.push(simpler);
                }
            }
        }
    }
    // Two writes with a pause between them: the least fragmentation that still makes a server
    // read twice, for bugs that need more than one read. Simpler only than more writes or a
    // longer first write: not than the same two writes without the pause (it would undo
    // clearing the pauses, round and round).
    let total = case.connections[index].conversation.total_len();
    if total >= 2 {
        let half = usize::try_from(total.div_ceil(2)).unwrap_or(usize::MAX);
        let write = &case.connections[index].write;
        let first = write.chunks.first().map_or(total, |&c| c as u64);
        if writes(write, total) > 2 || (half as u64) < first {
            out.extend(with(&|c| split_in_two(&mut c.write, half)));
        }
    }
    // 5. Simpler plans: the reads and the socket's options all at once first (one step kept
    //    where there would be up to four, each a timeout for a stall), then one at a time. The
    //    writes are not in it: defaults there would undo the split above, round and round.
    out.extend(with(&|c| plain_but_writes(c)));
    out.extend(with(&|c| clear(&mut c.write.pauses)));
    out.extend(with(&|c| clear(&mut c.read.pauses)));
    out.extend(with(&|c| flatten(&mut c.write.chunks)));
    out.extend(with(&|c| flatten(&mut c.read.sizes)));
    out.extend(with(&|c| default_buffers(&mut c.write)));
    out.extend(with(&|c| std::mem::replace(&mut c.write.nodelay, false)));
    out.extend(with(&|c| default_read(&mut c.read)));
    // The other connections' plans, all defaults: a bug between connections seldom needs
    // them, and a minimal case is read more easily without them.
    for other in (0..case.connections.len()).filter(|&i| i != index) {
        let mut simpler = case.clone();
        let conn = &mut simpler.connections[other];
        let plain = (WritePlan::default(), ReadPlan::default());
        if (&conn.write, &conn.read) != (&plain.0, &plain.1) {
            (conn.write, conn.read) = plain;
            out.push(simpler);
        }
    }
    // A change to the outer connection of a hold can leave it nothing to hold on.
    out.retain(|c| c.validate().is_ok());
    out
}

/// The lengths to cut a payload of `len` bytes to, shortest first. Nothing or one byte first:
/// many bugs need no more, and a short candidate that passes costs little. Then halving the
/// distance to the full length: the first that still fails is at most twice as far from the
/// shortest failing length as that is from the full one, so shrinking closes in on it in a few
/// rounds, not a byte at a time. Just past the `first_chunk` written keeps the least
/// fragmentation a bug may need: two writes; just past `wrong_at`, the offset where the echo
/// went wrong, keeps where it did.
fn prefix_lengths(len: usize, first_chunk: Option<usize>, wrong_at: Option<usize>) -> Vec<usize> {
    let mut lengths: Vec<usize> = (1..usize::BITS)
        .map(|k| len - (len >> k))
        .chain([0, 1])
        .chain(first_chunk.map(|c| c + 1))
        .chain(wrong_at.map(|at| at + 1))
        .chain([len.saturating_sub(1)])
        .filter(|&l| l < len)
        .collect();
    lengths.sort_unstable();
    lengths.dedup();
    lengths
}

/// How many writes `write` makes of `total` bytes, counted up to 3.
fn writes(write: &WritePlan, total: u64) -> usize {
    let mut written = 0u64;
    let mut writes = 0;
    for chunk in write.chunks.iter().cycle().take(3) {
        if written >= total {
            break;
        }
        written += *chunk as u64;
        writes += 1;
    }
    if write.chunks.is_empty() {
        1
    } else {
        writes.max(1)
    }
}

/// `case` without connection `i`; a hold that names it goes too, one past it is renumbered.
fn without_connection(case: &Case, i: usize) -> Case {
    let mut fewer = case.clone();
    fewer.connections.remove(i);
    fewer.hold = case.hold.and_then(|h| {
        let shift = |k: usize| if k > i { k - 1 } else { k };
        (h.outer != i && h.inner != i).then(|| Hold {
            outer: shift(h.outer),
            inner: shift(h.inner),
        })
    });
    fewer
}

/// Turns short generated payloads into literal bytes: the same bytes, so the case plays the
/// same, but a person reads them in the file.
pub(crate) fn literalize(case: &mut Case, max_len: usize) {
    for conn in &mut case.connections {
        let payloads: &mut [Payload] = match &mut conn.conversation {
            Conversation::Stream { payload }
            | Conversation::Close { payload }
            | Conversation::Abort { payload, .. } => std::slice::from_mut(payload),
            Conversation::Interactive { messages } => messages,
        };
        for payload in payloads {
            if matches!(payload, Payload::Generated { .. }) && payload.len() <= max_len {
                *payload = Payload::Literal(payload.bytes().into_owned());
            }
        }
    }
}

fn into_stream(conversation: &mut Conversation) -> bool {
    let payload = match conversation {
        Conversation::Stream { .. } => return false,
        Conversation::Close { payload } | Conversation::Abort { payload, .. } => payload.clone(),
        Conversation::Interactive { messages } => match messages.as_slice() {
            [only] => only.clone(),
            _ => {
                let mut bytes = Vec::new();
                for message in messages.iter() {
                    bytes.extend_from_slice(&message.bytes());
                }
                Payload::Literal(bytes)
            }
        },
    };
    *conversation = Conversation::Stream { payload };
    true
}

fn drop_round(conversation: &mut Conversation, first: bool) -> bool {
    match conversation {
        Conversation::Interactive { messages } if messages.len() > 1 => {
            if first {
                messages.remove(0);
            } else {
                messages.pop();
            }
            true
        }
        _ => false,
    }
}

/// The `index`th payload of `conversation`, to change.
fn payload_mut(conversation: &mut Conversation, index: usize) -> Option<&mut Payload> {
    match conversation {
        Conversation::Stream { payload }
        | Conversation::Close { payload }
        | Conversation::Abort { payload, .. } => Some(payload),
        Conversation::Interactive { messages } => messages.get_mut(index),
    }
}

/// Keeps an abort's reset within its (changed) payload: before its last byte. A payload too
/// short for that leaves an abort that does not validate, which `candidates` drops.
fn refit_abort(conversation: &mut Conversation) {
    if let Conversation::Abort { payload, after } = conversation {
        *after = (*after).min(payload.len().saturating_sub(1));
    }
}

fn truncate(conversation: &mut Conversation, index: usize, len: usize) -> bool {
    let Some(payload) = payload_mut(conversation, index) else {
        return false;
    };
    *payload = match payload {
        Payload::Literal(bytes) => Payload::Literal(bytes[..len.min(bytes.len())].to_vec()),
        Payload::Generated { seed, .. } => Payload::Generated { len, seed: *seed },
    };
    refit_abort(conversation);
    true
}

fn drop_prefix(conversation: &mut Conversation, index: usize, skip: usize) -> bool {
    let Some(payload) = payload_mut(conversation, index) else {
        return false;
    };
    let bytes = payload.bytes();
    let rest = bytes.get(skip..).unwrap_or_default().to_vec();
    *payload = Payload::Literal(rest);
    refit_abort(conversation);
    true
}

/// An abort that resets after fewer bytes of echo (`after` becomes `to`, if that is fewer).
fn reset_sooner(conversation: &mut Conversation, to: usize) -> bool {
    match conversation {
        Conversation::Abort { after, .. } if to >= 1 && to < *after => {
            *after = to;
            true
        }
        _ => false,
    }
}

/// An abort as a close of the same payload: the whole echo read, then an ordinary close.
fn abort_into_close(conversation: &mut Conversation) -> bool {
    match conversation {
        Conversation::Abort { payload, .. } => {
            let payload = std::mem::replace(payload, Payload::Literal(Vec::new()));
            *conversation = Conversation::Close { payload };
            true
        }
        _ => false,
    }
}

fn split_in_two(write: &mut WritePlan, half: usize) -> bool {
    // 5 ms: long enough that the server has read the first piece before the second arrives,
    // even on a busy machine.
    let plan = (vec![half.max(1)], vec![std::time::Duration::from_millis(5)]);
    if (write.chunks.clone(), write.pauses.clone()) == plan {
        return false;
    }
    write.chunks = plan.0;
    write.pauses = plan.1;
    write.nodelay = true;
    true
}

fn clear<T>(list: &mut Vec<T>) -> bool {
    let changed = !list.is_empty();
    list.clear();
    changed
}

/// A cyclic list of one entry instead of several: the largest, which keeps the fewest cuts.
fn flatten(list: &mut Vec<usize>) -> bool {
    if list.len() < 2 {
        return false;
    }
    let largest = list.iter().copied().max().unwrap_or(1);
    *list = vec![largest];
    true
}

fn default_buffers(write: &mut WritePlan) -> bool {
    let changed = write.send_buffer.is_some() || write.recv_buffer.is_some();
    write.send_buffer = None;
    write.recv_buffer = None;
    changed
}

/// Default reads, socket buffers and NODELAY (Nagle on); the write chunks and pauses stay.
fn plain_but_writes(conn: &mut ConnectionCase) -> bool {
    let changed = [
        default_read(&mut conn.read),
        default_buffers(&mut conn.write),
        std::mem::replace(&mut conn.write.nodelay, false),
    ];
    changed.contains(&true)
}

fn default_read(read: &mut ReadPlan) -> bool {
    let default = ReadPlan::default();
    let changed = *read != default;
    *read = default;
    changed
}

#[cfg(test)]
mod tests;
