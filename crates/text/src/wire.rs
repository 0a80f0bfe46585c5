//! News-agency credits: which wire service an article says it comes from.
//!
//! Outlets that run agency copy say so in a dateline or a credit line: "PARIS (AFP) —",
//! "(Reuters) -", "… /dpa", "Fuente: EFE", "(AA)". Two articles crediting the same agency
//! that tell the story in the same sentences are one report, however lightly edited; the
//! synthesiser uses this to count independent sources. Only these explicit forms count:
//! "according to Reuters" in running text cites an agency, it does not credit it.

/// An agency: its canonical name and the tokens that credit it.
struct Agency {
    name: &'static str,
    tokens: &'static [&'static str],
}

const AGENCIES: &[Agency] = &[
    Agency { name: "AFP", tokens: &["AFP", "Agence France-Presse"] },
    Agency { name: "Reuters", tokens: &["Reuters"] },
    Agency { name: "AP", tokens: &["AP", "Associated Press"] },
    Agency { name: "dpa", tokens: &["dpa", "DPA"] },
    Agency { name: "EFE", tokens: &["EFE"] },
    Agency { name: "ANSA", tokens: &["ANSA"] },
    Agency { name: "Anadolu", tokens: &["AA", "Anadolu", "Anadolu Agency", "Anadolu Ajansı"] },
    Agency { name: "Xinhua", tokens: &["Xinhua", "新华社"] },
    Agency { name: "PAP", tokens: &["PAP"] },
    Agency { name: "MTI", tokens: &["MTI"] },
    Agency { name: "TASS", tokens: &["TASS", "ТАСС"] },
    Agency { name: "Interfax", tokens: &["Interfax", "Интерфакс"] },
    Agency { name: "Ukrinform", tokens: &["Ukrinform", "Укрінформ"] },
    Agency { name: "Kyodo", tokens: &["Kyodo"] },
    Agency { name: "Yonhap", tokens: &["Yonhap"] },
    Agency { name: "Europa Press", tokens: &["Europa Press"] },
    Agency { name: "APA", tokens: &["APA"] },
    Agency { name: "Belga", tokens: &["Belga"] },
    Agency { name: "ANP", tokens: &["ANP"] },
    Agency { name: "ČTK", tokens: &["ČTK", "CTK"] },
    Agency { name: "Keystone-SDA", tokens: &["Keystone-SDA", "SDA", "ATS"] },
    Agency { name: "Lusa", tokens: &["Lusa"] },
    Agency { name: "AGI", tokens: &["AGI"] },
];

/// Characters at each end of the text where datelines and credit lines are looked for.
const EDGE_CHARS: usize = 160;

fn edge(text: &str, head: bool) -> &str {
    let n = text.chars().count();
    if n <= EDGE_CHARS {
        return text;
    }
    let cut = if head { EDGE_CHARS } else { n - EDGE_CHARS };
    let byte = text.char_indices().nth(cut).map_or(text.len(), |(i, _)| i);
    if head { &text[..byte] } else { &text[byte..] }
}

/// Whether `token` appears in `hay` in a credit form: in parentheses ("(AFP)",
/// "(AFP/dpa)"), followed by a dash or colon at the start ("Reuters –", "EFE:"), after a
/// slash or dash at the end ("… /dpa", "— AP"), or after "Source:"-style words.
fn credited(hay: &str, token: &str, at_start: bool) -> bool {
    let boundary = |c: Option<char>| c.is_none_or(|c| !c.is_alphanumeric());
    let mut from = 0;
    while let Some(pos) = hay[from..].find(token).map(|p| p + from) {
        let before = hay[..pos].chars().next_back();
        let after = hay[pos + token.len()..].chars().next();
        from = pos + token.len();
        if !boundary(before) || !boundary(after) {
            continue;
        }
        let pre = hay[..pos].trim_end();
        let post = hay[pos + token.len()..].trim_start();
        let in_parens = (pre.ends_with('(') || pre.ends_with('/')) && (post.starts_with(')') || post.starts_with('/'));
        let dash = |s: &str| s.starts_with(['-', '–', '—', ':', '|']);
        let opens = at_start
            && (pre.is_empty() || in_parens || pre.chars().all(|c| c.is_uppercase() || !c.is_alphabetic()))
            && (dash(post) || in_parens);
        let closes = !at_start
            && post.trim_end_matches(['.', ')']).is_empty()
            && (pre.ends_with(['/', '-', '–', '—', '(', ':']) || pre.is_empty());
        let source_word = ["Source:", "Fuente:", "Quelle:", "Fonte:", "Źródło:", "Forrás:", "Kaynak:", "Джерело:"]
            .iter()
            .any(|w| pre.ends_with(w));
        if in_parens || opens || closes || source_word {
            return true;
        }
    }
    false
}

/// The agencies an article credits in its dateline or credit line, in canonical names.
pub fn agency_credits(text: &str) -> Vec<&'static str> {
    let (head, tail) = (edge(text, true), edge(text, false));
    AGENCIES
        .iter()
        .filter(|a| a.tokens.iter().any(|t| credited(head, t, true) || credited(tail, t, false)))
        .map(|a| a.name)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datelines_and_credit_lines_name_the_agency() {
        assert_eq!(agency_credits("PARIS (AFP) — Leaders met on Tuesday."), ["AFP"]);
        assert_eq!(agency_credits("KYIV, Nov 27 (Reuters) - Ukraine said on Thursday…"), ["Reuters"]);
        assert_eq!(agency_credits("Berlin (dpa/AFP) - Die Regierung…"), ["AFP", "dpa"]);
        assert_eq!(agency_credits("EFE - El Gobierno anunció hoy…"), ["EFE"]);
        assert_eq!(agency_credits("Ankara (AA) - Türkiye…"), ["Anadolu"]);
        assert_eq!(agency_credits("Le sommet s'est tenu mardi. Les dirigeants ont signé. /AFP"), ["AFP"]);
        assert_eq!(agency_credits("Texto largo del artículo. Fuente: Europa Press"), ["Europa Press"]);
        assert_eq!(agency_credits("WASHINGTON (AP) — The Senate voted…"), ["AP"]);
    }

    #[test]
    fn mentions_in_running_text_are_not_credits() {
        assert!(agency_credits("The minister told Reuters that talks would go on.").is_empty());
        assert!(agency_credits("According to AFP sources, the APAC region grew.").is_empty());
        assert!(agency_credits("A map of the AAA highway network.").is_empty());
        assert!(agency_credits("").is_empty());
    }
}
