// Calls to the CRM APIs through the gateway (same origin), with the user's token. Every
// surface's envelope carries `message` and, on success, `data` (CONTRACT §4).

const TIMEOUT_MS = 20000;

export class ApiError extends Error {
  constructor(status, message, { traceId = null, retryAfter = null } = {}) {
    super(message);
    this.status = status;        // HTTP status; 0 when the gateway could not be reached
    this.traceId = traceId;      // X-Trace-Id, for support to find the request in the logs
    this.retryAfter = retryAfter;
  }
}

function statusMessage(status, serverMessage, retryAfter) {
  if (status === 401) return "登录已失效或令牌无效，请重新登录";
  if (status === 403) return serverMessage ? `无权查看：${serverMessage}` : "无权查看";
  if (status === 429) return `请求过于频繁，请 ${retryAfter || "稍后"} 秒后重试`;
  if (status >= 500) return `服务暂不可用（HTTP ${status}）${serverMessage ? `：${serverMessage}` : ""}`;
  return serverMessage || `请求失败（HTTP ${status}）`;
}

/** GET a JSON API and return its `data`; throws ApiError with a message a user can read. */
export async function getData(path, { token, factory, params = {}, signal } = {}) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") query.set(key, value);
  }
  const url = query.size ? `${path}?${query}` : path;
  const headers = { Accept: "application/json", Authorization: `Bearer ${token}` };
  if (factory) headers["X-Factory-Id"] = factory;  // tenant of /api/v1 and /api/external
  const timeout = AbortSignal.timeout(TIMEOUT_MS);
  let resp;
  try {
    resp = await fetch(url, {
      headers, cache: "no-store", signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
  } catch (err) {
    if (signal?.aborted) throw err;  // superseded by a newer refresh: not an error to show
    if (timeout.aborted) throw new ApiError(0, `请求超时（${TIMEOUT_MS / 1000} 秒）`);
    throw new ApiError(0, "无法连接网关，请检查网络");
  }
  const traceId = resp.headers.get("X-Trace-Id");
  const retryAfter = resp.headers.get("Retry-After");
  let body = null;
  try {
    body = await resp.json();
  } catch {
    // not JSON: reported below by status
  }
  if (!resp.ok) {
    throw new ApiError(resp.status, statusMessage(resp.status, body?.message, retryAfter), { traceId, retryAfter });
  }
  if (!body || typeof body !== "object" || !("data" in body)) {
    throw new ApiError(resp.status, "返回内容不是预期的格式", { traceId });
  }
  return body.data;
}

/** OAuth 2.0 client credentials (RFC 6749 §4.4, CONTRACT §3): a token for a client id and secret. */
export async function tokenForClient(clientId, clientSecret) {
  let resp;
  try {
    resp = await fetch("/oauth/token", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
      body: new URLSearchParams({
        grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret,
      }),
      cache: "no-store",
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch {
    throw new ApiError(0, "无法连接令牌服务，请检查网络");
  }
  let body = null;
  try {
    body = await resp.json();
  } catch {
    // not JSON: reported below by status
  }
  if (resp.ok && body && typeof body.access_token === "string") return body.access_token;
  if (resp.status === 400 || resp.status === 401) {
    // RFC 6749 §5.2 errors: invalid_client, unauthorized_client, invalid_request, ...
    const reason = body?.error_description || body?.message || body?.error;
    throw new ApiError(resp.status, `客户端 ID 或密钥不正确${reason ? `（${reason}）` : ""}`);
  }
  if (resp.status === 404) throw new ApiError(404, "此部署没有令牌服务（/oauth/token），请粘贴令牌登录");
  throw new ApiError(resp.status, statusMessage(resp.status, body?.message || body?.error_description));
}
