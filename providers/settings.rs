//! What the external providers' settings have in common: a `config.json` under
//! `user/default/<provider>/` (absent means empty), values written `"$NAME"` read from the
//! environment, lists written as `"a, b"` or `["a", "b"]`, and base URLs that must be
//! HTTPS (plain HTTP only to a loopback address, for tests and local issuers).

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use reqwest::Url;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::json_store::parse_json;

/// Where `provider`'s settings file of `config` lives: `user/default/<provider>/config.json`.
pub fn settings_path(config: &Config, provider: &str) -> PathBuf {
    config
        .home
        .join("user")
        .join("default")
        .join(provider)
        .join("config.json")
}

/// Reads a settings file; an absent one is the default (every field unset).
pub fn read_settings_file<T: DeserializeOwned + Default>(path: &Path) -> Result<T> {
    match std::fs::read(path) {
        Ok(bytes) => parse_json(path, &bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// A list in a settings file: `"alice, bob"` (as llms.py writes it) or `["alice", "bob"]`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum NameList {
    /// Comma- or blank-separated names in one string.
    One(String),
    /// One name per item.
    Many(Vec<String>),
}

/// Expands a `"$NAME"` value from the environment; blank means unset.
pub fn expand(value: Option<String>, env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let value = value?.trim().to_owned();
    let value = match value.strip_prefix('$') {
        Some(name) => env(name)?,
        None => value,
    };
    (!value.trim().is_empty()).then(|| value.trim().to_owned())
}

/// Expands a list, item by item, into one comma-separated string.
pub fn expand_list(
    value: Option<NameList>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<String> {
    match value? {
        NameList::One(text) => expand(Some(text), env),
        NameList::Many(items) => Some(
            items
                .into_iter()
                .filter_map(|item| expand(Some(item), env))
                .collect::<Vec<_>>()
                .join(","),
        ),
    }
}

/// The names of a comma- or blank-separated list.
pub fn split_names(value: Option<String>) -> Vec<String> {
    value
        .unwrap_or_default()
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Whether `url` points at this machine (`localhost` or a loopback address).
pub fn is_loopback_url(url: &Url) -> bool {
    match url.host_str() {
        Some("localhost") => true,
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

/// Whether `url` may carry secrets: HTTPS, or plain HTTP to a loopback address.
pub fn is_safe_scheme(url: &Url) -> bool {
    url.scheme() == "https" || (url.scheme() == "http" && is_loopback_url(url))
}
