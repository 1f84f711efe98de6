//! `scenario_parse`'s oracle: scenario text must parse or fail without a panic, its error must
//! render, and what parses must print to text that reparses to the same scenario and prints the
//! same again.

use super::{FuzzFailure, InputVerdict, MAX_INPUT_LEN};
use crate::scenario;

/// The `scenario_parse` check of `data`; `Err` when printing and parsing again do not agree.
pub(super) fn scenario_round_trip(data: &[u8]) -> Result<InputVerdict, FuzzFailure> {
    if data.len() > MAX_INPUT_LEN {
        return Ok(InputVerdict::Rejected);
    }
    // Lossy rather than rejected: the parser takes text, and a mutation that breaks UTF-8
    // somewhere still says something about the rest.
    let text = String::from_utf8_lossy(data);
    let file = match scenario::parse(&text) {
        Ok(file) => file,
        Err(error) => {
            // Rendering an error must not panic either, wherever its span points.
            let _ = error.render();
            return Ok(InputVerdict::Passed);
        }
    };
    let printed = scenario::print(&file);
    let reprint = |problem: String| FuzzFailure::Reprint {
        problem,
        printed: printed.clone(),
    };
    match scenario::parse(&printed) {
        Ok(again) if again == file => {
            if scenario::print(&again) != printed {
                return Err(reprint(
                    "printing the reparsed scenario gives other text".into(),
                ));
            }
            Ok(InputVerdict::Passed)
        }
        Ok(again) => Err(reprint(format!(
            "it reparses to a different scenario:\n{}",
            scenario::print(&again)
        ))),
        Err(error) => Err(reprint(format!(
            "the printed text does not parse:\n{}",
            error.render()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use crate::fuzzing::{scenario_parse, InputVerdict};

    #[test]
    fn scenario_parse_round_trips_and_survives_garbage() {
        for text in [
            "",
            "# echo-harness scenario v1\n",
            "# echo-harness scenario v1\nconnection c0\n  send \"\\x",
            "# echo-harness scenario v2\n",
            "\u{feff}# echo-harness scenario v1\r\n",
        ] {
            assert_eq!(
                scenario_parse(text.as_bytes()),
                InputVerdict::Passed,
                "{text:?}"
            );
        }
        assert_eq!(scenario_parse(&[0xff, 0xfe, b'#']), InputVerdict::Passed);
    }
}
