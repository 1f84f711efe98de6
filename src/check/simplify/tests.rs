//! The case-level steps: each candidate simpler, valid, and the ones a shrink relies on there.

use super::*;

#[test]
fn candidates_are_each_simpler_than_the_case() {
    let mut case = Case::single(Conversation::Interactive {
        messages: vec![
            Payload::generated(100, 1),
            Payload::Literal(b"abc".to_vec()),
        ],
    });
    case.connections[0].write.pauses = vec![std::time::Duration::from_millis(1)];
    case.connections[0].write.chunks = vec![1, 7];
    let mut other = case.connections[0].clone();
    other.name = "c1".into();
    case.connections.push(other);
    let candidates = candidates(&case, "c0", 0);
    assert!(candidates.iter().all(|c| c != &case));
    assert!(candidates.iter().any(|c| c.connections.len() == 1));
    assert!(candidates.iter().any(|c| c.total_len() < case.total_len()));
    assert!(candidates
        .iter()
        .any(|c| c.connections[0].write.pauses.is_empty()));
    assert!(candidates
        .iter()
        .any(|c| c.connections[0].write.chunks == vec![7]));
}

/// An abort simplifies to a close of the same bytes, resets sooner, and keeps its reset
/// before the end of a shortened payload; every candidate is a valid case.
#[test]
fn an_abort_simplifies_to_a_close_or_an_earlier_reset() {
    let case = Case::single(Conversation::Abort {
        payload: Payload::generated(1000, 2),
        after: 600,
    });
    let candidates = candidates(&case, "c0", 0);
    let conversations: Vec<&Conversation> = candidates
        .iter()
        .map(|c| &c.connections[0].conversation)
        .collect();
    assert!(conversations.contains(&&Conversation::Close {
        payload: Payload::generated(1000, 2)
    }));
    for after in [1, 300] {
        assert!(conversations.contains(&&Conversation::Abort {
            payload: Payload::generated(1000, 2),
            after
        }));
    }
    // Cut to 500 bytes, the reset comes before its last byte.
    assert!(conversations.contains(&&Conversation::Abort {
        payload: Payload::generated(500, 2),
        after: 499
    }));
    assert!(candidates.iter().all(|c| c.validate().is_ok()));
}

/// A prefix cut just past the bytes that came back intact, in the payload where they end,
/// and the empty prefix; nothing past the end.
#[test]
fn a_prefix_ends_just_past_where_the_echo_went_wrong() {
    let case = Case::single(Conversation::Interactive {
        messages: vec![Payload::generated(1000, 1), Payload::generated(1000, 2)],
    });
    let lengths = |received| -> Vec<(usize, usize)> {
        candidates(&case, "c0", received)
            .iter()
            .filter_map(|c| match &c.connections[0].conversation {
                Conversation::Interactive { messages } if messages.len() == 2 => {
                    Some((messages[0].len(), messages[1].len()))
                }
                _ => None,
            })
            .collect()
    };
    let wrong_in_second = lengths(1000 + 637);
    assert!(
        wrong_in_second.contains(&(1000, 638)),
        "{wrong_in_second:?}"
    );
    assert!(
        !wrong_in_second.contains(&(638, 1000)),
        "{wrong_in_second:?}"
    );
    let wrong_in_first = lengths(637);
    assert!(wrong_in_first.contains(&(638, 1000)), "{wrong_in_first:?}");
    assert!(!wrong_in_first.contains(&(1000, 638)), "{wrong_in_first:?}");
    assert!(lengths(5000).iter().all(|&(a, b)| a <= 1000 && b <= 1000));
}

/// A plan of ten writes splits into two; splitting and clearing the pauses do not undo
/// each other: the same two writes without the pause are not split again. A first write
/// longer than half is.
#[test]
fn a_plan_of_two_writes_is_not_split_again() {
    let mut case = Case::single(Conversation::Stream {
        payload: Payload::generated(100, 3),
    });
    case.connections[0].write.chunks = vec![10];
    let split = candidates(&case, "c0", 0)
        .into_iter()
        .find(|c| c.connections[0].write.chunks == vec![50])
        .expect("a split into two writes");
    assert_eq!(split.connections[0].write.pauses.len(), 1);
    case.connections[0].write.chunks = vec![50];
    case.connections[0].write.pauses.clear();
    assert!(candidates(&case, "c0", 0)
        .iter()
        .all(|c| c.connections[0].write.pauses.is_empty()));
    case.connections[0].write.chunks = vec![99];
    assert!(candidates(&case, "c0", 0)
        .iter()
        .any(|c| c.connections[0].write.chunks == vec![50]));
}

#[test]
fn literalize_keeps_the_bytes() {
    let mut case = Case::single(Conversation::Stream {
        payload: Payload::generated(10, 5),
    });
    let before = case.connections[0].conversation.payloads()[0]
        .bytes()
        .into_owned();
    literalize(&mut case, 64);
    assert_eq!(
        case.connections[0].conversation.payloads()[0],
        Payload::Literal(before)
    );
}

/// Three connections: `c0` held open with a first message and more rounds, `c1` playing
/// meanwhile, `c2` (the failing one) not in the hold; every plan far from the defaults.
fn held_trio() -> Case {
    let mut case = Case::single(Conversation::Interactive {
        messages: vec![Payload::Literal(Vec::new()), Payload::generated(100, 1)],
    });
    for (name, seed) in [("c1", 2), ("c2", 3)] {
        case.connections.push(ConnectionCase::new(
            name,
            Conversation::Stream {
                payload: Payload::generated(1000, seed),
            },
        ));
    }
    for conn in &mut case.connections {
        conn.write.nodelay = true;
        conn.write.send_buffer = Some(4096);
        conn.read.sizes = vec![3, 5];
    }
    case.hold = Some(Hold { outer: 0, inner: 1 });
    case.validate().expect("a valid case");
    case
}

/// A stall behind a held connection: the connection that played meanwhile can go with the
/// failing one playing in its place (dropped alone, it takes the hold with it), the held one
/// keeps only its first message, and the others' plans go to the defaults in one step.
#[test]
fn a_stall_behind_a_hold_keeps_the_hold_with_fewer_connections() {
    let case = held_trio();
    let candidates = candidates(&case, "c2", 0);
    assert!(candidates.iter().all(|c| c.validate().is_ok()));
    let trios: Vec<&Case> = candidates
        .iter()
        .filter(|c| c.connections.len() == 3)
        .collect();
    let names =
        |c: &Case| -> Vec<String> { c.connections.iter().map(|c| c.name.clone()).collect() };
    assert!(
        candidates
            .iter()
            .any(|c| names(c) == ["c0", "c2"] && c.hold == Some(Hold { outer: 0, inner: 1 })),
        "no candidate plays c2 inside the hold of c0"
    );
    assert!(trios.iter().any(|c| {
        c.connections[0].conversation
            == Conversation::Interactive {
                messages: vec![Payload::Literal(Vec::new())],
            }
            && c.connections[1..] == case.connections[1..]
    }));
    for other in [0, 1] {
        assert!(trios.iter().any(|c| {
            c.connections[other].write == WritePlan::default()
                && c.connections[other].read == ReadPlan::default()
                && c.connections[other].conversation == case.connections[other].conversation
                && c.connections[2] == case.connections[2]
        }));
    }
    // The failing connection's reads, buffers and NODELAY in one step, its writes as they are.
    assert!(trios.iter().any(|c| {
        let failing = &c.connections[2];
        failing.read == ReadPlan::default()
            && failing.write
                == WritePlan {
                    chunks: case.connections[2].write.chunks.clone(),
                    pauses: case.connections[2].write.pauses.clone(),
                    ..WritePlan::default()
                }
    }));
}
