//! Keyset pagination shared by every list operation.
//!
//! A list is a sequence of `(key, item)` in ascending key order, where the key's string order is the
//! list's documented sort order. The page token is an opaque encoding of the last key returned, so
//! a page boundary stays put when items are added or removed elsewhere in the list (keyset, not
//! offset).

use crdb_cloud::models::Pagination;

use super::errors::{ApiError, ApiResult};

pub const DEFAULT_LIMIT: usize = 100;
/// Larger requests are served in pages of this size rather than refused.
pub const MAX_LIMIT: usize = 500;

const TOKEN_PREFIX: &str = "k1:";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    #[default]
    Asc,
    Desc,
}

/// A parsed page request: where to resume, how many items, in which direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageParams {
    pub after: Option<String>,
    pub limit: usize,
    pub order: SortOrder,
}

impl Default for PageParams {
    fn default() -> Self {
        Self { after: None, limit: DEFAULT_LIMIT, order: SortOrder::Asc }
    }
}

impl PageParams {
    /// Parses `pagination.page`, `pagination.limit` and `pagination.sort_order`.
    pub fn parse(page: Option<&str>, limit: Option<&str>, order: Option<&str>) -> ApiResult<Self> {
        let after = page.map(decode_token).transpose()?;
        let limit = match limit {
            None => DEFAULT_LIMIT,
            Some(text) => match text.parse::<i64>() {
                Ok(0) => DEFAULT_LIMIT,
                Ok(n) if n > 0 => (n as usize).min(MAX_LIMIT),
                _ => {
                    return Err(ApiError::invalid(format!(
                        "invalid value {text:?} for `pagination.limit`; expected a positive integer"
                    )));
                }
            },
        };
        let order = match order {
            None | Some("ASC") => SortOrder::Asc,
            Some("DESC") => SortOrder::Desc,
            Some(other) => {
                return Err(ApiError::invalid(format!(
                    "invalid value {other:?} for `pagination.sort_order`; expected ASC or DESC"
                )));
            }
        };
        Ok(Self { after, limit, order })
    }
}

/// Encodes a sort key as an opaque page token.
pub fn encode_token(key: &str) -> String {
    hex::encode(format!("{TOKEN_PREFIX}{key}"))
}

/// Decodes a page token made by [`encode_token`].
pub fn decode_token(token: &str) -> ApiResult<String> {
    let invalid = || ApiError::invalid("`pagination.page` is not a page token returned by this API");
    let bytes = hex::decode(token).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    text.strip_prefix(TOKEN_PREFIX).map(str::to_string).ok_or_else(invalid)
}

/// Cuts one page out of `items` (ascending by key). Returns the page and the response pagination,
/// whose `next_page` is set only when more items remain.
pub fn paginate<T>(items: impl IntoIterator<Item = (String, T)>, params: &PageParams) -> (Vec<T>, Pagination) {
    let mut items: Vec<(String, T)> = items.into_iter().collect();
    debug_assert!(items.windows(2).all(|w| w[0].0 < w[1].0), "paginate needs strictly ascending unique keys");
    if params.order == SortOrder::Desc {
        items.reverse();
    }
    let after = params.after.as_deref();
    let mut remaining = items.into_iter().filter(|(key, _)| match (after, params.order) {
        (None, _) => true,
        (Some(a), SortOrder::Asc) => key.as_str() > a,
        (Some(a), SortOrder::Desc) => key.as_str() < a,
    });
    let mut page = Vec::new();
    let mut last_key = None;
    for (key, item) in remaining.by_ref().take(params.limit) {
        last_key = Some(key);
        page.push(item);
    }
    let more = remaining.next().is_some();
    let pagination = Pagination { next_page: last_key.filter(|_| more).map(|k| encode_token(&k)), previous_page: None };
    (page, pagination)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyed(names: &[&str]) -> Vec<(String, String)> {
        names.iter().map(|n| (n.to_string(), n.to_string())).collect()
    }

    fn collect_all(names: &[&str], limit: usize, order: SortOrder) -> Vec<String> {
        let mut params = PageParams { after: None, limit, order };
        let mut out = Vec::new();
        loop {
            let (page, p) = paginate(keyed(names), &params);
            assert!(page.len() <= limit);
            out.extend(page);
            match p.next() {
                Some(token) => params.after = Some(decode_token(token).unwrap()),
                None => break,
            }
        }
        out
    }

    #[test]
    fn walks_every_item_once_in_order() {
        let names: Vec<String> = (0..250).map(|i| format!("user{i:03}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        assert_eq!(collect_all(&refs, 100, SortOrder::Asc), names);
        let mut reversed = names.clone();
        reversed.reverse();
        assert_eq!(collect_all(&refs, 7, SortOrder::Desc), reversed);
    }

    #[test]
    fn last_full_page_has_no_next_token() {
        let (page, p) = paginate(keyed(&["a", "b"]), &PageParams { limit: 2, ..Default::default() });
        assert_eq!(page, vec!["a", "b"]);
        assert_eq!(p.next_page, None);
        let (_, p) = paginate(keyed(&["a", "b", "c"]), &PageParams { limit: 2, ..Default::default() });
        assert_eq!(decode_token(p.next().unwrap()).unwrap(), "b");
    }

    #[test]
    fn keyset_is_stable_when_items_are_inserted_before_the_cursor() {
        let (_, p) = paginate(keyed(&["b", "d", "f"]), &PageParams { limit: 2, ..Default::default() });
        let after = decode_token(p.next().unwrap()).unwrap();
        // "a" and "c" arrive before the cursor: the next page still starts right after "d".
        let (page, _) = paginate(keyed(&["a", "b", "c", "d", "e", "f"]), &PageParams { after: Some(after), limit: 10, ..Default::default() });
        assert_eq!(page, vec!["e", "f"]);
    }

    #[test]
    fn parses_and_rejects_parameters() {
        let p = PageParams::parse(None, Some("1000"), Some("DESC")).unwrap();
        assert_eq!((p.limit, p.order), (MAX_LIMIT, SortOrder::Desc));
        assert_eq!(PageParams::parse(None, Some("0"), None).unwrap().limit, DEFAULT_LIMIT);
        let err = PageParams::parse(None, Some("-3"), None).unwrap_err();
        assert!(err.message.contains("pagination.limit"));
        assert!(PageParams::parse(None, Some("ten"), None).is_err());
        assert!(PageParams::parse(None, None, Some("UP")).unwrap_err().message.contains("sort_order"));
        assert!(PageParams::parse(Some("zz"), None, None).unwrap_err().message.contains("pagination.page"));
        assert!(PageParams::parse(Some(&hex::encode("x")), None, None).is_err());
        let token = encode_token("name/with:odd chars");
        assert_eq!(PageParams::parse(Some(&token), None, None).unwrap().after.as_deref(), Some("name/with:odd chars"));
    }
}
