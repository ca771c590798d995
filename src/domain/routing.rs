//! Which site ships an order, on a database that several sites share: the rules of
//! `[[routing]]`, taken in order; the first whose places include the order's ship-to place
//! wins, and an order no rule takes goes to the site `main` (whichever daemon syncs, the same
//! order goes to the same site). Decided once, at the order's first import; a lead moves it
//! afterwards (`packline orders move`).

use serde::Deserialize;

/// One `[[routing]]` rule: `site`, and where its orders go to (any of `countries`, and any of
/// `states` within them). A rule with neither takes every order (a default at the end).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub site: String,
    /// Two-letter country codes (`US`); none: any country.
    #[serde(default)]
    pub countries: Vec<String>,
    /// State or region codes as Amazon gives them (`CA`, `NV`); none: any.
    #[serde(default)]
    pub states: Vec<String>,
}

impl Rule {
    fn takes(&self, country: Option<&str>, state: Option<&str>) -> bool {
        let within = |list: &[String], v: Option<&str>| {
            list.is_empty()
                || v.is_some_and(|v| list.iter().any(|x| x.eq_ignore_ascii_case(v.trim())))
        };
        within(&self.countries, country) && within(&self.states, state)
    }
}

/// The site no rule names: the first a database has.
pub const DEFAULT_SITE: &str = "main";

/// The site of an order shipped to `country`/`state`: the first rule's that takes it, else
/// [`DEFAULT_SITE`].
pub fn site_for<'a>(rules: &'a [Rule], country: Option<&str>, state: Option<&str>) -> &'a str {
    rules
        .iter()
        .find(|r| r.takes(country, state))
        .map_or(DEFAULT_SITE, |r| r.site.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(site: &str, countries: &[&str], states: &[&str]) -> Rule {
        Rule {
            site: site.into(),
            countries: countries.iter().map(|s| s.to_string()).collect(),
            states: states.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn the_first_rule_that_takes_the_place_wins_else_the_importing_site() {
        let rules = [
            rule("reno", &["US"], &["CA", "NV", "OR", "WA"]),
            rule("leeds", &["GB"], &[]),
        ];
        assert_eq!(site_for(&rules, Some("US"), Some("ca")), "reno");
        assert_eq!(site_for(&rules, Some("US"), Some(" NV ")), "reno");
        assert_eq!(site_for(&rules, Some("US"), Some("NY")), "main");
        assert_eq!(site_for(&rules, Some("GB"), None), "leeds");
        assert_eq!(site_for(&rules, None, Some("CA")), "main");
        let with_default = [rules[0].clone(), rule("east", &[], &[])];
        assert_eq!(site_for(&with_default, Some("US"), Some("NY")), "east");
        assert_eq!(site_for(&[], Some("US"), Some("CA")), "main");
    }
}
