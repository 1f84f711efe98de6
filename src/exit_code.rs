//! The process exit codes, the same for every command.
//!
//! What decides between [`ExitCode::CheckFailed`] and [`ExitCode::Environment`] is *when* a
//! failure happens. Before the first byte of the first exchange (refused, cannot bind, a spawned
//! server never ready) the environment is at fault: 3. After that the target misbehaved: 1, also
//! for a connection refused or reset mid-run or a spawned server that dies.

/// How `echo-harness` ends. The numbers are part of the interface: scripts rely on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExitCode {
    /// Everything passed; for `serve` and `proxy`, also a stop by SIGINT or SIGTERM.
    Success,
    /// A check failed: the target misbehaved (wrong bytes, early EOF, reset mid-run...).
    CheckFailed,
    /// Usage error or bad input: a bad flag, a bad address, a bad file.
    Usage,
    /// Environment error: cannot bind, address in use, connection refused before the first
    /// exchange, a process that cannot be started or never becomes ready.
    Environment,
    /// Interrupted by SIGINT or SIGTERM while a verdict was pending.
    Interrupted,
}

impl ExitCode {
    /// The number the process exits with.
    pub const fn code(self) -> u8 {
        match self {
            ExitCode::Success => 0,
            ExitCode::CheckFailed => 1,
            ExitCode::Usage => 2,
            ExitCode::Environment => 3,
            ExitCode::Interrupted => 130,
        }
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(code.code())
    }
}

#[cfg(test)]
mod tests {
    use super::ExitCode;

    #[test]
    fn success_is_zero() {
        assert_eq!(ExitCode::Success.code(), 0);
    }

    #[test]
    fn check_failed_is_one() {
        assert_eq!(ExitCode::CheckFailed.code(), 1);
    }

    #[test]
    fn usage_is_two() {
        assert_eq!(ExitCode::Usage.code(), 2);
    }

    #[test]
    fn environment_is_three() {
        assert_eq!(ExitCode::Environment.code(), 3);
    }

    #[test]
    fn interrupted_is_130() {
        assert_eq!(ExitCode::Interrupted.code(), 130);
    }

    #[test]
    fn converts_to_a_process_exit_code() {
        let code: std::process::ExitCode = ExitCode::Environment.into();
        assert_eq!(code, std::process::ExitCode::from(3));
    }
}
