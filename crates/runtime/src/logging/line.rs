//! One log line's text: UTC time, prefix, level, optional source location, message.

use std::time::SystemTime;

use super::level::LogLevel;

/// `time|prefix|LEVEL>message`, with `[file:line] ` before the message when given.
pub(super) fn format_line(
    time: &str,
    prefix: &str,
    level: LogLevel,
    location: Option<(&str, u32)>,
    msg: &str,
) -> String {
    match location {
        Some((file, line)) => format!("{time}|{prefix}|{}>[{file}:{line}] {msg}\n", level.name()),
        None => format!("{time}|{prefix}|{}>{msg}\n", level.name()),
    }
}

/// "YYYY-MM-DD HH:MM:SS.mmm" in UTC.
pub(super) fn utc_timestamp(t: SystemTime) -> String {
    let t = time::OffsetDateTime::from(t);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn utc_timestamps() {
        let day = |d: u64| UNIX_EPOCH + std::time::Duration::from_secs(d * 86_400);
        assert_eq!(utc_timestamp(day(0)), "1970-01-01 00:00:00.000");
        assert_eq!(utc_timestamp(day(19_723)), "2024-01-01 00:00:00.000");
        assert_eq!(utc_timestamp(day(11_016)), "2000-02-29 00:00:00.000");
        let t = UNIX_EPOCH + std::time::Duration::from_millis(1_700_000_000_123);
        assert_eq!(utc_timestamp(t), "2023-11-14 22:13:20.123");
    }

    #[test]
    fn lines_carry_a_location_only_when_asked() {
        let plain = format_line("T", "DCF|1", LogLevel::Error, None, "set parameter failed");
        assert_eq!(plain, "T|DCF|1|ERROR>set parameter failed\n");
        let located = format_line("T", "DCF|1", LogLevel::Info, Some(("src/x.rs", 7)), "m");
        assert_eq!(located, "T|DCF|1|INFO>[src/x.rs:7] m\n");
    }
}
