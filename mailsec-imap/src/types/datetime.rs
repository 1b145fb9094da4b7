//! `date` (SEARCH) and `date-time` (APPEND, INTERNALDATE), RFC 9051 §9.

use crate::error::ValidationError;

/// Month names as IMAP writes them.
pub(crate) const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A calendar date, `dd-Mon-yyyy`, validated (February 29 only in leap years).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

impl Date {
    /// Validates a date (year 0–9999, month 1–12, a day that exists).
    ///
    /// ```
    /// use mailsec_imap::types::Date;
    /// assert!(Date::new(2024, 2, 29).is_ok());
    /// assert!(Date::new(2023, 2, 29).is_err());
    /// ```
    pub fn new(year: u16, month: u8, day: u8) -> Result<Self, ValidationError> {
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let days = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => 0,
        };
        if year > 9999 || day == 0 || day > days {
            return Err(ValidationError::OutOfRange { what: "date" });
        }
        Ok(Date { year, month, day })
    }
    /// Year.
    pub fn year(&self) -> u16 {
        self.year
    }
    /// Month, 1–12.
    pub fn month(&self) -> u8 {
        self.month
    }
    /// Day of month.
    pub fn day(&self) -> u8 {
        self.day
    }
}

/// A `date-time`: `"dd-Mon-yyyy hh:mm:ss +zzzz"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DateTime {
    date: Date,
    hour: u8,
    minute: u8,
    second: u8,
    zone: i16,
}

impl DateTime {
    /// Validates a date-time; `zone_minutes` is the offset east of UTC, within ±99:59 as the
    /// grammar allows (minutes part below 60).
    ///
    /// ```
    /// use mailsec_imap::types::{Date, DateTime};
    /// let d = Date::new(1994, 2, 7).unwrap();
    /// assert!(DateTime::new(d, 21, 52, 25, -8 * 60).is_ok());
    /// assert!(DateTime::new(d, 24, 0, 0, 0).is_err());
    /// ```
    pub fn new(
        date: Date,
        hour: u8,
        minute: u8,
        second: u8,
        zone_minutes: i16,
    ) -> Result<Self, ValidationError> {
        // RFC 9051 §9: time = 2DIGIT ":" 2DIGIT ":" 2DIGIT; we accept 60 for a leap second.
        if hour > 23 || minute > 59 || second > 60 || !(-5999..=5999).contains(&zone_minutes) {
            return Err(ValidationError::OutOfRange { what: "date-time" });
        }
        Ok(DateTime {
            date,
            hour,
            minute,
            second,
            zone: zone_minutes,
        })
    }
    /// The date.
    pub fn date(&self) -> Date {
        self.date
    }
    /// Hour, minute, second.
    pub fn time(&self) -> (u8, u8, u8) {
        (self.hour, self.minute, self.second)
    }
    /// Offset east of UTC in minutes.
    pub fn zone_minutes(&self) -> i16 {
        self.zone
    }
}
