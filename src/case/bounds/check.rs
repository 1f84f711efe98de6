//! Whether a case stays inside its [`CaseBounds`]: [`CaseBounds::check`], and the
//! [`BoundsViolation`] that names the first bound a case leaves.

use std::fmt;
use std::time::Duration;

use super::CaseBounds;
use crate::case::{Case, ConnectionCase, InvalidCase, Payload};

/// Which half of a connection's plans a violation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The writer ([`WritePlan`](crate::case::WritePlan)).
    Write,
    /// The reader ([`ReadPlan`](crate::case::ReadPlan)).
    Read,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Write => "write",
            Side::Read => "read",
        })
    }
}

/// How a case leaves its [`CaseBounds`]; see [`CaseBounds::check`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BoundsViolation {
    /// The case breaks a hard limit, so it is no case at all.
    #[error(transparent)]
    Invalid(#[from] InvalidCase),
    /// More connections than `max_connections`.
    #[error("{count} connections, bounds allow {max}")]
    TooManyConnections {
        /// How many.
        count: usize,
        /// The bound.
        max: usize,
    },
    /// A connection sends more than `max_payload_len`.
    #[error("connection {connection}: sends {len} bytes, bounds allow {max}")]
    PayloadTooLong {
        /// The connection.
        connection: String,
        /// Bytes sent.
        len: u64,
        /// The bound.
        max: usize,
    },
    /// A literal payload longer than `max_literal_len`.
    #[error("connection {connection}: literal of {len} bytes, bounds allow {max}")]
    LiteralTooLong {
        /// The connection.
        connection: String,
        /// Its length.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// More rounds than `max_rounds`.
    #[error("connection {connection}: {rounds} rounds, bounds allow {max}")]
    TooManyRounds {
        /// The connection.
        connection: String,
        /// Its rounds.
        rounds: usize,
        /// The bound.
        max: usize,
    },
    /// A plan entry, list or socket buffer out of bounds.
    #[error("connection {connection}: {side} plan: {problem}")]
    Plan {
        /// The connection.
        connection: String,
        /// Which plan.
        side: Side,
        /// What is out of bounds.
        problem: String,
    },
    /// More chunks or units than [`CaseBounds::effective_max_ops`].
    #[error("connection {connection}: {ops} {side} operations, bounds allow {max}")]
    TooManyOps {
        /// The connection.
        connection: String,
        /// Which side.
        side: Side,
        /// How many.
        ops: u64,
        /// The bound.
        max: u64,
    },
    /// The writer's and reader's pauses add up to more than `max_pause_total`.
    #[error("connection {connection}: pauses add up to {total:?}, bounds allow {max:?}")]
    PauseBudget {
        /// The connection.
        connection: String,
        /// Its pause total.
        total: Duration,
        /// The bound.
        max: Duration,
    },
}

impl CaseBounds {
    /// Checks that `case` is valid and within these bounds; names the first violation.
    pub fn check(&self, case: &Case) -> Result<(), BoundsViolation> {
        case.validate()?;
        let b = self.normalized();
        if case.connections.len() > b.max_connections {
            return Err(BoundsViolation::TooManyConnections {
                count: case.connections.len(),
                max: b.max_connections,
            });
        }
        case.connections
            .iter()
            .try_for_each(|conn| b.check_connection(conn))
    }

    fn check_connection(&self, conn: &ConnectionCase) -> Result<(), BoundsViolation> {
        let name = || conn.name.clone();
        let len = conn.conversation.total_len();
        if len > self.max_payload_len as u64 {
            return Err(BoundsViolation::PayloadTooLong {
                connection: name(),
                len,
                max: self.max_payload_len,
            });
        }
        let payloads = conn.conversation.payloads();
        if payloads.len() > self.max_rounds {
            return Err(BoundsViolation::TooManyRounds {
                connection: name(),
                rounds: payloads.len(),
                max: self.max_rounds,
            });
        }
        for p in payloads {
            if let Payload::Literal(bytes) = p {
                if bytes.len() > self.max_literal_len {
                    return Err(BoundsViolation::LiteralTooLong {
                        connection: name(),
                        len: bytes.len(),
                        max: self.max_literal_len,
                    });
                }
            }
        }
        let plan = |side, problem| BoundsViolation::Plan {
            connection: name(),
            side,
            problem,
        };
        for (side, sizes, pauses) in [
            (Side::Write, &conn.write.chunks, &conn.write.pauses),
            (Side::Read, &conn.read.sizes, &conn.read.pauses),
        ] {
            if sizes.len() > self.max_plan_len || pauses.len() > self.max_plan_len {
                return Err(plan(
                    side,
                    format!("more than {} entries", self.max_plan_len),
                ));
            }
            if let Some(s) = sizes.iter().find(|&&s| s > self.max_chunk_len) {
                return Err(plan(side, format!("size {s} above {}", self.max_chunk_len)));
            }
            if let Some(p) = pauses.iter().find(|&&p| p > self.max_pause) {
                return Err(plan(
                    side,
                    format!("pause {p:?} above {:?}", self.max_pause),
                ));
            }
        }
        let range = self.min_socket_buffer..=self.max_socket_buffer;
        for (what, size) in [
            ("send buffer", conn.write.send_buffer),
            ("receive buffer", conn.write.recv_buffer),
        ] {
            if let Some(size) = size.filter(|s| !range.contains(s)) {
                return Err(plan(
                    Side::Write,
                    format!("{what} {size} outside {range:?}"),
                ));
            }
        }
        let max = self.effective_max_ops();
        for (side, ops) in [
            (Side::Write, conn.write_count()),
            (Side::Read, conn.read_count()),
        ] {
            if ops > max {
                return Err(BoundsViolation::TooManyOps {
                    connection: name(),
                    side,
                    ops,
                    max,
                });
            }
        }
        let total = conn.pause_total();
        if total > self.max_pause_total {
            return Err(BoundsViolation::PauseBudget {
                connection: name(),
                total,
                max: self.max_pause_total,
            });
        }
        Ok(())
    }
}
#[cfg(test)]
mod tests {
    use super::super::tests::conn;
    use super::*;
    use crate::case::PauseScale;

    #[test]
    fn check_names_each_violation() {
        let bounds = CaseBounds::default();
        let single = |c: ConnectionCase| Case {
            connections: vec![c],
            pause_scale: PauseScale::ONE,
            hold: None,
        };
        let too_long = single(conn(bounds.max_payload_len + 1, vec![65536], vec![]));
        assert!(matches!(
            bounds.check(&too_long),
            Err(BoundsViolation::PayloadTooLong { .. })
        ));
        let ops = single(conn(1 << 20, vec![1], vec![]));
        assert!(matches!(
            bounds.check(&ops),
            Err(BoundsViolation::TooManyOps {
                side: Side::Write,
                ..
            })
        ));
        let pauses = single(conn(100, vec![1], vec![2]));
        assert!(matches!(
            bounds.check(&pauses),
            Err(BoundsViolation::PauseBudget { .. })
        ));
        let big_pause = single(conn(1, vec![1], vec![3]));
        assert!(matches!(
            bounds.check(&big_pause),
            Err(BoundsViolation::Plan {
                side: Side::Write,
                ..
            })
        ));
        let mut buf = conn(1, vec![1], vec![]);
        buf.write.recv_buffer = Some(bounds.max_socket_buffer + 1);
        let err = bounds.check(&single(buf)).unwrap_err();
        assert!(err.to_string().contains("receive buffer"), "{err}");
        let mut many = single(conn(1, vec![1], vec![]));
        for i in 1..=bounds.max_connections {
            let mut c = many.connections[0].clone();
            c.name = format!("c{i}");
            many.connections.push(c);
        }
        assert!(matches!(
            bounds.check(&many),
            Err(BoundsViolation::TooManyConnections { .. })
        ));
        let mut invalid = single(conn(1, vec![1], vec![]));
        invalid.connections[0].write.chunks.clear();
        assert!(matches!(
            bounds.check(&invalid),
            Err(BoundsViolation::Invalid(_))
        ));
    }
}
