//! The organisation's JWT issuers (`/api/v1/jwt-issuers`): list, add, get, update, delete, as the
//! official description specifies them, with the rules a user meets: the issuer URL and audience
//! are required, the issuer URL is unique in the organisation (a second one is ALREADY_EXISTS,
//! 409), the JWKS must be a JSON object with a `keys` array, the claim defaults to `sub`, and an
//! identity map entry whose token identity is a regular expression maps to a `\1` placeholder.

use axum::Json;
use axum::extract::Extension;
use chrono::Utc;

use crdb_cloud::models::{
    AddJwtIssuerRequest, DEFAULT_JWT_CLAIM, JwtIssuer, JwtIssuerIdentityMapEntry, ListJwtIssuersResponse, UpdateJwtIssuerRequest, check_jwks,
};

use super::SimState;
use super::errors::{ApiError, ApiResult};
use super::extract::{ApiPath, JsonBody, OrgCtx, QueryParams};
use super::pagination::paginate;
use super::state::Org;

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("JWT issuer {id} not found"))
}

/// The path's `id` is a UUID in the description.
fn issuer_id(id: &str) -> ApiResult<()> {
    uuid::Uuid::parse_str(id).map(|_| ()).map_err(|_| ApiError::invalid(format!("invalid value {id:?} for `id`; expected a UUID")))
}

fn issuer_url(url: &str) -> ApiResult<()> {
    match url::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "https" | "http") && parsed.host().is_some() => Ok(()),
        _ => Err(ApiError::invalid(format!("issuer_url {url:?} is not an http(s) URL"))),
    }
}

fn audience(audience: &str) -> ApiResult<()> {
    if audience.trim().is_empty() {
        return Err(ApiError::invalid("audience is required"));
    }
    Ok(())
}

fn jwks(jwks: &str) -> ApiResult<()> {
    if jwks.trim().is_empty() {
        return Ok(());
    }
    check_jwks(jwks).map_err(|why| ApiError::invalid(format!("jwks is not a valid JSON Web Key Set: {why}")))
}

fn identity_map(entries: &[JwtIssuerIdentityMapEntry]) -> ApiResult<()> {
    for (index, entry) in entries.iter().enumerate() {
        if entry.token_identity.is_empty() || entry.cc_identity.is_empty() {
            return Err(ApiError::invalid(format!("identity_map[{index}]: token_identity and cc_identity are required")));
        }
        if entry.token_identity.starts_with('/') && !entry.cc_identity.contains("\\1") {
            return Err(ApiError::invalid(format!(
                "identity_map[{index}].cc_identity must contain the \\1 placeholder when token_identity is a regular expression"
            )));
        }
    }
    Ok(())
}

/// The claim as stored: empty means the default.
fn claim(claim: Option<String>) -> String {
    claim.filter(|c| !c.is_empty()).unwrap_or_else(|| DEFAULT_JWT_CLAIM.to_string())
}

/// Issuer URLs are unique in an organisation.
fn url_taken(org: &Org, url: &str, except: Option<&str>) -> ApiResult<()> {
    match org.jwt_issuers.values().find(|i| i.issuer_url == url && Some(i.id.as_str()) != except) {
        Some(other) => Err(ApiError::already_exists(format!("a JWT issuer with issuer_url {url:?} already exists (id {})", other.id))),
        None => Ok(()),
    }
}

/// Ordered by issuer URL (unique, so a keyset key on its own).
pub(super) async fn list(sim: SimState, Extension(ctx): Extension<OrgCtx>, query: QueryParams) -> ApiResult<Json<ListJwtIssuersResponse>> {
    let params = query.page(sim.max_page_size)?;
    let mut store = sim.store();
    let org = store.org(&ctx.org_id, Utc::now())?;
    let items = org.jwt_issuers_by_url().into_iter().map(|i| (i.issuer_url.clone(), i.clone()));
    let (jwt_issuers, pagination) = paginate(items, &params);
    Ok(Json(ListJwtIssuersResponse { jwt_issuers, pagination: Some(pagination) }))
}

pub(super) async fn add(sim: SimState, Extension(ctx): Extension<OrgCtx>, JsonBody(req): JsonBody<AddJwtIssuerRequest>) -> ApiResult<Json<JwtIssuer>> {
    issuer_url(&req.issuer_url)?;
    audience(&req.audience)?;
    jwks(req.jwks.as_deref().unwrap_or_default())?;
    identity_map(req.identity_map.as_deref().unwrap_or_default())?;
    let mut store = sim.store();
    let org = store.org(&ctx.org_id, Utc::now())?;
    url_taken(org, &req.issuer_url, None)?;
    let issuer = JwtIssuer {
        id: uuid::Uuid::new_v4().to_string(),
        issuer_url: req.issuer_url,
        audience: req.audience,
        jwks: Some(req.jwks.unwrap_or_default()),
        claim: Some(claim(req.claim)),
        identity_map: Some(req.identity_map.unwrap_or_default()),
    };
    org.jwt_issuers.insert(issuer.id.clone(), issuer.clone());
    Ok(Json(issuer))
}

pub(super) async fn get(sim: SimState, Extension(ctx): Extension<OrgCtx>, ApiPath(id): ApiPath<String>) -> ApiResult<Json<JwtIssuer>> {
    issuer_id(&id)?;
    let mut store = sim.store();
    let org = store.org(&ctx.org_id, Utc::now())?;
    org.jwt_issuers.get(&id).cloned().map(Json).ok_or_else(|| not_found(&id))
}

/// Changes the fields present; the rest stay.
pub(super) async fn update(
    sim: SimState,
    Extension(ctx): Extension<OrgCtx>,
    ApiPath(id): ApiPath<String>,
    JsonBody(req): JsonBody<UpdateJwtIssuerRequest>,
) -> ApiResult<Json<JwtIssuer>> {
    issuer_id(&id)?;
    if let Some(url) = &req.issuer_url {
        issuer_url(url)?;
    }
    if let Some(value) = &req.audience {
        audience(value)?;
    }
    jwks(req.jwks.as_deref().unwrap_or_default())?;
    identity_map(req.identity_map.as_deref().unwrap_or_default())?;
    let mut store = sim.store();
    let org = store.org(&ctx.org_id, Utc::now())?;
    if !org.jwt_issuers.contains_key(&id) {
        return Err(not_found(&id));
    }
    if let Some(url) = &req.issuer_url {
        url_taken(org, url, Some(&id))?;
    }
    let issuer = org.jwt_issuers.get_mut(&id).expect("checked above");
    if let Some(url) = req.issuer_url {
        issuer.issuer_url = url;
    }
    if let Some(value) = req.audience {
        issuer.audience = value;
    }
    if let Some(value) = req.jwks {
        issuer.jwks = Some(value);
    }
    if req.claim.is_some() {
        issuer.claim = Some(claim(req.claim));
    }
    if let Some(entries) = req.identity_map {
        issuer.identity_map = Some(entries);
    }
    Ok(Json(issuer.clone()))
}

pub(super) async fn delete(sim: SimState, Extension(ctx): Extension<OrgCtx>, ApiPath(id): ApiPath<String>) -> ApiResult<Json<JwtIssuer>> {
    issuer_id(&id)?;
    let mut store = sim.store();
    let org = store.org(&ctx.org_id, Utc::now())?;
    org.jwt_issuers.remove(&id).map(Json).ok_or_else(|| not_found(&id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(token: &str, cc: &str) -> JwtIssuerIdentityMapEntry {
        JwtIssuerIdentityMapEntry { token_identity: token.into(), cc_identity: cc.into() }
    }

    #[test]
    fn requests_are_checked_as_the_cloud_checks_them() {
        assert!(issuer_url("https://issuer.example.com").is_ok());
        assert!(issuer_url("issuer.example.com").is_err());
        assert!(issuer_url("ftp://issuer.example.com").is_err());
        assert!(audience(" ").is_err());
        assert!(jwks("").is_ok() && jwks(r#"{"keys":[]}"#).is_ok());
        assert!(jwks("{").unwrap_err().message.contains("jwks"));
        assert!(identity_map(&[entry("/^sso_(.*)$", "\\1"), entry("alice", "alice@example.com")]).is_ok());
        assert!(identity_map(&[entry("/^sso_(.*)$", "bob@example.com")]).unwrap_err().message.contains("identity_map[0]"));
        assert!(identity_map(&[entry("", "x")]).is_err());
        assert_eq!(claim(None), "sub");
        assert_eq!(claim(Some(String::new())), "sub");
        assert_eq!(claim(Some("email".into())), "email");
        assert!(issuer_id("not-a-uuid").is_err());
    }
}
