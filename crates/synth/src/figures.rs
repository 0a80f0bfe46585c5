//! Figures in sentences: which numbers are quantities (a toll, an amount) rather than
//! parts of a date or a year, and when two sentences give different values for what is
//! likely one quantity.
//!
//! Only quantities can be disputed or updated: "10 February 2023" and "45,000 dead" share
//! a sentence, but only the toll is a figure sources report differently.

use crate::numbers;
use std::collections::BTreeSet;

/// Month names in the languages chorus sees most, by month (with English abbreviations);
/// a number next to one is a day of the month, not a quantity.
const MONTHS: [&[&str]; 12] = [
    &[
        "january",
        "jan",
        "januar",
        "janvier",
        "enero",
        "gennaio",
        "janeiro",
        "januari",
        "stycznia",
        "января",
        "січня",
        "ocak",
    ],
    &[
        "february",
        "feb",
        "februar",
        "février",
        "febrero",
        "febbraio",
        "fevereiro",
        "februari",
        "lutego",
        "февраля",
        "лютого",
        "şubat",
    ],
    &["march", "mar", "märz", "mars", "marzo", "março", "maart", "marca", "марта", "березня", "mart"],
    &["april", "apr", "avril", "abril", "aprile", "kwietnia", "апреля", "квітня", "nisan"],
    &["may", "mai", "mayo", "maggio", "maio", "mei", "maja", "мая", "травня", "mayıs"],
    &["june", "jun", "juni", "juin", "junio", "giugno", "junho", "czerwca", "июня", "червня", "haziran"],
    &["july", "jul", "juli", "juillet", "julio", "luglio", "julho", "lipca", "июля", "липня", "temmuz"],
    &["august", "aug", "août", "agosto", "augustus", "sierpnia", "августа", "серпня", "ağustos"],
    &[
        "september",
        "sep",
        "sept",
        "septembre",
        "septiembre",
        "settembre",
        "setembro",
        "września",
        "сентября",
        "вересня",
        "eylül",
    ],
    &[
        "october",
        "oct",
        "oktober",
        "octobre",
        "octubre",
        "ottobre",
        "outubro",
        "października",
        "октября",
        "жовтня",
        "ekim",
    ],
    &["november", "nov", "novembre", "noviembre", "novembro", "listopada", "ноября", "листопада", "kasım"],
    &[
        "december",
        "dec",
        "dezember",
        "décembre",
        "diciembre",
        "dicembre",
        "dezembro",
        "grudnia",
        "декабря",
        "грудня",
        "aralık",
    ],
];

/// The month (1–12) a word names, in any of the languages of [`MONTHS`] (punctuation and
/// case ignored).
pub fn month_of(word: &str) -> Option<u32> {
    let w = word.trim_matches(|c: char| !c.is_alphabetic()).to_lowercase();
    if w.is_empty() {
        return None;
    }
    MONTHS.iter().position(|names| names.contains(&w.as_str())).map(|i| i as u32 + 1)
}

fn is_month(word: &str) -> bool {
    month_of(word).is_some()
}

/// Numbers that are a day of the month: next to a month name ("6 February", "February 6",
/// "6. Februar", "6 de febrero"), or written as a numeric date ("06.02.2023", "2/6").
fn date_parts(text: &str) -> BTreeSet<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut out = BTreeSet::new();
    let mut day = |w: &str| {
        let d = w.trim_matches(|c: char| !c.is_ascii_digit());
        if let Ok(v) = d.parse::<u32>()
            && (1..=31).contains(&v)
            && d.len() <= 2
        {
            out.insert(v.to_string());
        }
    };
    for (i, w) in words.iter().enumerate() {
        if !is_month(w) {
            continue;
        }
        if i >= 1 {
            day(words[i - 1]);
        }
        // "6 de febrero", "le 6 février": the word before may be a preposition.
        if i >= 2 && words[i - 1].chars().count() <= 3 && !words[i - 1].chars().any(|c| c.is_ascii_digit()) {
            day(words[i - 2]);
        }
        if let Some(next) = words.get(i + 1) {
            day(next);
        }
    }
    // Numeric dates: every part of "06.02.2023" or "2/6/2023" is a date part.
    for w in &words {
        let w = w.trim_matches(|c: char| !c.is_ascii_digit());
        let parts: Vec<&str> = w.split(['.', '/', '-']).collect();
        if parts.len() >= 3
            && parts.iter().all(|p| !p.is_empty() && p.len() <= 4 && p.chars().all(|c| c.is_ascii_digit()))
        {
            for p in parts {
                if let Ok(v) = p.parse::<u32>() {
                    out.insert(v.to_string());
                }
            }
            // The number reader takes "06.02" for a decimal.
            out.extend(numbers(w));
        }
    }
    out
}

/// Whether a canonical number is a year (a whole number from 1900 to 2100).
fn is_year(v: f64) -> bool {
    v.fract() == 0.0 && (1900.0..=2100.0).contains(&v)
}

/// The quantities a sentence gives: its numbers without years and days of the month.
pub fn quantities(text: &str) -> BTreeSet<String> {
    let dates = date_parts(text);
    numbers(text)
        .into_iter()
        .filter(|n| !dates.contains(n))
        .filter(|n| n.parse::<f64>().is_ok_and(|v| v > 0.0 && !is_year(v)))
        .collect()
}

/// The values two sentences give differently for what is likely one quantity: a value
/// only `a` gives and one only `b` gives, within 25 % of each other (19,882 against 18,860
/// deaths; 1.4 against 1.37 trillion). Returns each side's values in dispute, empty when
/// the sentences do not conflict. Years and dates are never compared.
pub fn conflicting(a: &BTreeSet<String>, b: &BTreeSet<String>) -> (Vec<String>, Vec<String>) {
    within_ratio(a, b, 1.25)
}

/// Like [`conflicting`], with the largest ratio between two values of one quantity given:
/// successive figures of a rising toll can be further apart than two reports of it at one
/// time (29,000 then 45,000 dead).
pub fn within_ratio(a: &BTreeSet<String>, b: &BTreeSet<String>, max_ratio: f64) -> (Vec<String>, Vec<String>) {
    let parse = |s: &String| s.parse::<f64>().ok().map(|v| (s.clone(), v));
    let only_a: Vec<(String, f64)> = a.difference(b).filter_map(parse).collect();
    let only_b: Vec<(String, f64)> = b.difference(a).filter_map(parse).collect();
    let close = |x: f64, y: f64| x.max(y) / x.min(y) <= max_ratio;
    let side_a: Vec<String> =
        only_a.iter().filter(|(_, x)| only_b.iter().any(|(_, y)| close(*x, *y))).map(|(s, _)| s.clone()).collect();
    let side_b: Vec<String> =
        only_b.iter().filter(|(_, y)| only_a.iter().any(|(_, x)| close(*x, *y))).map(|(s, _)| s.clone()).collect();
    (side_a, side_b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(t: &str) -> Vec<String> {
        quantities(t).into_iter().collect()
    }

    #[test]
    fn days_years_and_numeric_dates_are_not_quantities() {
        assert_eq!(q("At least 45,000 people died by 10 February 2023."), ["45000"]);
        assert_eq!(q("Bis zum 10. Februar starben mindestens 45.000 Menschen."), ["45000"]);
        assert_eq!(q("Le 6 février, 1 200 morts ont été recensés."), ["1200"]);
        assert_eq!(q("El 6 de febrero murieron 35 000 personas en 10 provincias."), ["10", "35000"]);
        assert_eq!(q("Reported on 06.02.2023: 12 dead."), ["12"]);
        assert_eq!(q("In 2010 and on March 3 there were 35000 victims"), ["35000"]);
    }

    #[test]
    fn only_the_quantity_in_dispute_is_returned() {
        let a = quantities("By 9 February 2023, 10 provinces reported 29,000 dead.");
        let b = quantities("By 10 February 2023, 10 provinces reported 35,000 dead.");
        assert_eq!(conflicting(&a, &b), (vec!["29000".to_string()], vec!["35000".to_string()]));
        let c = quantities("Three months later, 2 regions had 35,000 dead.");
        assert!(conflicting(&quantities("49 dead"), &quantities("1.5 million videos")).0.is_empty());
        assert!(!conflicting(&quantities("19,882 deaths"), &quantities("18,860 deaths")).0.is_empty());
        assert_eq!(conflicting(&b, &c), (vec![], vec![]), "same toll, other counts differ but are not close");
        assert!(conflicting(&quantities("in 2016"), &quantities("in 2017")).0.is_empty());
    }
}
