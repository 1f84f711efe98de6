//! A process group's [`ResourceLevel`], read from /proc: every process whose process group is
//! the given one, its descriptors (/proc/PID/fd) and threads (/proc/PID/status).

use std::io;

use super::ResourceLevel;

/// The descriptors and threads of every process in process group `pgid`, summed. Errors when
/// /proc cannot be read (not Linux, /proc not mounted, not allowed) or no process of the group
/// is left. A process that ends while it is being counted is skipped.
pub fn process_group_level(pgid: u32) -> io::Result<ResourceLevel> {
    #[cfg(target_os = "linux")]
    {
        linux::level(pgid)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = pgid;
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "counting a process group's descriptors and threads needs Linux's /proc",
        ))
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::fs;
    use std::io;

    use super::ResourceLevel;

    pub(super) fn level(pgid: u32) -> io::Result<ResourceLevel> {
        let mut level = ResourceLevel::default();
        let mut members = 0;
        // The group leader first: its pid is the group's id, and most targets are one process.
        for pid in std::iter::once(pgid).chain(others(pgid)?) {
            if let Some((descriptors, threads)) = process(pid) {
                level.descriptors += descriptors;
                level.threads += threads;
                members += 1;
            }
        }
        if members == 0 {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no process of group {pgid} is left in /proc"),
            ));
        }
        Ok(level)
    }

    /// The pids in group `pgid` but its leader, found by reading /proc/PID/stat of every
    /// process (a group has no list of its own in /proc).
    fn others(pgid: u32) -> io::Result<Vec<u32>> {
        let mut pids = Vec::new();
        for entry in fs::read_dir("/proc")? {
            let Some(pid) = entry
                .ok()
                .and_then(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
            else {
                continue;
            };
            if pid != pgid && process_group(pid) == Some(pgid) {
                pids.push(pid);
            }
        }
        Ok(pids)
    }

    /// The process group of `pid`, from /proc/PID/stat: `pid (comm) state ppid pgrp ...`,
    /// where comm may hold spaces and parentheses, so the fields after the last `)` count.
    fn process_group(pid: u32) -> Option<u32> {
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        pgrp_of(&stat)
    }

    pub(super) fn pgrp_of(stat: &str) -> Option<u32> {
        let rest = &stat[stat.rfind(')')? + 1..];
        rest.split_whitespace().nth(2)?.parse().ok()
    }

    /// Descriptors and threads of one process; `None` when it is gone (or not ours to see).
    fn process(pid: u32) -> Option<(u64, u64)> {
        let descriptors = fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as u64;
        let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let threads = status
            .lines()
            .find_map(|line| line.strip_prefix("Threads:"))
            .and_then(|n| n.trim().parse().ok())?;
        Some((descriptors, threads))
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn pgrp_is_read_after_a_command_name_with_spaces_and_parentheses() {
        let stat = "4242 (my (odd) server) S 1 4240 4240 0 -1 4194560";
        assert_eq!(linux::pgrp_of(stat), Some(4240));
        assert_eq!(linux::pgrp_of("garbage"), None);
    }

    /// A `sleep` with its standard descriptors on /dev/null, in process group `group`
    /// (0: a group of its own).
    fn sleeper(group: i32) -> std::process::Child {
        use std::os::unix::process::CommandExt;
        use std::process::{Command, Stdio};
        let child = Command::new("sleep")
            .arg("30")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(group)
            .spawn()
            .expect("start sleep");
        // `spawn` can return before the child has exec'd, while it still holds a copy of every
        // descriptor of this (multi-threaded) test process: wait, bounded, until it is `sleep`
        // and asleep. Its name alone is not enough: exec renames the process before it closes
        // the close-on-exec descriptors, and another test opening pipes meanwhile made the
        // count 2 too high in that window (seen once in CI).
        let stat = format!("/proc/{}/stat", child.id());
        let asleep = |s: String| s.starts_with(&format!("{} (sleep) S", child.id()));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !std::fs::read_to_string(&stat).is_ok_and(asleep)
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        child
    }

    #[test]
    fn every_process_of_the_group_is_counted() {
        let mut leader = sleeper(0);
        let pgid = leader.id();
        let one = process_group_level(pgid).expect("the group of a live sleep");
        // Its three standard descriptors, and whatever it inherited (cargo's jobserver pipes).
        assert!(one.descriptors >= 3 && one.threads == 1, "{one:?}");
        let mut member = sleeper(pgid as i32);
        let two = process_group_level(pgid).unwrap();
        for child in [&mut leader, &mut member] {
            let _ = child.kill();
            let _ = child.wait();
        }
        // A second, identical process: twice as much.
        let twice = ResourceLevel {
            descriptors: 2 * one.descriptors,
            threads: 2,
        };
        assert_eq!(two, twice);
    }

    #[test]
    fn a_group_with_no_process_is_an_error() {
        // Pids never reach u32::MAX - 1 (pid_max is at most 2^22).
        assert!(process_group_level(u32::MAX - 1).is_err());
    }
}
