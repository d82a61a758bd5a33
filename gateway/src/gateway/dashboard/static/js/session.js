// The signed-in user's token: kept in sessionStorage only (this tab, until it closes or the
// user signs out), never in localStorage or a cookie. The claims are decoded here for
// display and the tenant picker only; every API checks the token's signature itself.

const KEY = "crm.dashboard.token";

export class TokenError extends Error {}

function base64UrlJson(part) {
  const b64 = part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "=");
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

const strings = (v) => Array.isArray(v) && v.every((s) => typeof s === "string");

/** The JWT's payload, checked for the claims the page needs (CONTRACT §3). */
export function decodeClaims(token) {
  const parts = token.split(".");
  if (parts.length !== 3) throw new TokenError("这不是一个 JWT 令牌（应为以点分隔的三段）");
  let claims;
  try {
    claims = base64UrlJson(parts[1]);
  } catch {
    throw new TokenError("令牌内容无法解析");
  }
  if (!claims || typeof claims !== "object") throw new TokenError("令牌内容无法解析");
  if (!strings(claims.roles) || !strings(claims.factories)) {
    throw new TokenError("令牌缺少 roles 或 factories 声明");
  }
  if (typeof claims.exp !== "number") throw new TokenError("令牌缺少过期时间（exp）");
  if (claims.exp * 1000 <= Date.now()) throw new TokenError("令牌已过期，请换一个新令牌");
  if (claims.factories.length === 0) throw new TokenError("令牌没有可访问的工厂（factories 为空）");
  return claims;
}

export class Session {
  constructor(token) {
    this.token = token;
    this.claims = decodeClaims(token);
  }

  get name() { return this.claims.name || this.claims.sub || "未命名用户"; }
  get roles() { return this.claims.roles; }
  get expiresAt() { return new Date(this.claims.exp * 1000); }
  get anyFactory() { return this.claims.factories.includes("*"); }
  /** The tenants the token names (without "*"). */
  get factories() { return this.claims.factories.filter((f) => f !== "*"); }
  mayUse(factory) { return this.anyFactory || this.claims.factories.includes(factory); }
}

/** Sign in with a token: checked, kept for this tab, returned as a Session. */
export function signIn(rawToken) {
  const token = rawToken.trim().replace(/^Bearer\s+/i, "");
  const session = new Session(token);
  sessionStorage.setItem(KEY, token);
  return session;
}

/** The session this tab signed in with earlier, if its token is still valid. */
export function resume() {
  const token = sessionStorage.getItem(KEY);
  if (!token) return null;
  try {
    return new Session(token);
  } catch {
    sessionStorage.removeItem(KEY);
    return null;
  }
}

/** Forget the token and everything else the page kept for this tab. */
export function signOut() {
  for (const key of Object.keys(sessionStorage)) {
    if (key.startsWith("crm.dashboard.")) sessionStorage.removeItem(key);
  }
}
