//! The project's own history: one [`Record`] per line (README, "History format").

use super::ParseError;
use crate::world::history::Record;

/// Parse JSON lines into records. Blank lines are skipped; anything else that is not a record is
/// an error naming the line and serde's complaint.
pub fn parse_jsonl(text: &str) -> Result<Vec<Record>, ParseError> {
    let mut records = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        let record: Record = serde_json::from_str(raw)
            .map_err(|e| ParseError::new(i + 1, format!("not a history record: {e}")))?;
        records.push(record);
    }
    if records.is_empty() {
        return Err(ParseError::new(0, "no history records"));
    }
    Ok(records)
}
