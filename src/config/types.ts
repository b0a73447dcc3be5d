/**
 * The validated configuration model. The CLI quick-start flags and (later) TOML files both build
 * this, so there is one path from a model to a running proxy. Every object is frozen once built.
 *
 * @module
 */

import type { PeerCertificateState, PeerVerify, TlsVersion } from "../runtime/types.ts";
import type { BalanceAlgorithmName, BalanceHashKeyConfig } from "../core/balance/types.ts";
import type { Cidr } from "../core/cidr.ts";
import type { LogTargetSpec } from "../log/log_target.ts";
import type { AccessLevel } from "../control/types.ts";

/** One `log` destination (see src/log/log_target.ts). */
export type LogTargetConfig = LogTargetSpec;

/** "tcp": bytes spliced untouched. "http": requests parsed and rebuilt. */
export type ProxyMode = "tcp" | "http";

/** The whole configuration. */
export interface Config {
  readonly global: GlobalConfig;
  readonly frontends: readonly FrontendConfig[];
  readonly backends: readonly BackendConfig[];
}

/** Process-wide settings. */
export interface GlobalConfig {
  /** Concurrent client connections over all frontends. */
  readonly maxconn: number;
  /** File the process id is written to once listening, or null. */
  readonly pidfile: string | null;
  /** Buffer and head limits (HAProxy's `tune.*`). */
  readonly tune: TuneConfig;
  /** `log` of [global]: where operator messages go, and traffic lines of frontends with `log = "global"`. */
  readonly log: readonly LogTargetConfig[];
  /**
   * How long a graceful stop (SIGUSR1, or the old process of a reload) may take, ms: then the
   * sessions left are cut. null waits for the last one (HAProxy's `hard-stop-after`, unset).
   */
  readonly hardStopAfter: number | null;
  /** Worker processes sharing the listeners: a number, or "auto" (one per core). */
  readonly workers: number | "auto";
  /** User to run as once the listeners are bound (name or uid), or null to stay who we are. */
  readonly user: string | number | null;
  /** Group to run as once the listeners are bound (name or gid), or null (the user's group). */
  readonly group: string | number | null;
  /** Which cores each worker is pinned to, or null (the scheduler decides). */
  readonly cpuMap: CpuMapConfig | null;
  /**
   * Directory the process chroots into once bound and before dropping privileges (HAProxy's
   * `chroot`), an absolute path; null: no chroot.
   */
  readonly chroot: string | null;
  /** The runtime API's sockets (HAProxy's `stats socket`); empty: none. */
  readonly statsSockets: readonly StatsSocketConfig[];
  /**
   * A `show servers state` text to start the servers from when no old process hands its state over
   * (HAProxy's `server-state-file` with `load-server-state-from-file global`); null: none.
   */
  readonly serverStateFile: string | null;
}

/** One socket of the runtime API, `stats-socket` in [global] (HAProxy's `stats socket`). */
export type StatsSocketConfig = StatsUnixSocketConfig | StatsTcpSocketConfig;

/** What every runtime API socket has. */
interface StatsSocketCommon {
  /** What its connections may do. */
  readonly level: AccessLevel;
  /** An idle connection is closed after this, ms (HAProxy's `stats timeout`). */
  readonly timeout: number;
}

/** The runtime API on a UNIX socket. */
export interface StatsUnixSocketConfig extends StatsSocketCommon {
  readonly kind: "unix";
  readonly path: string;
  /** Permission bits of the socket file (0o600 by default). */
  readonly mode: number;
}

/** The runtime API on a TCP address (never at level "admin" without `expose-admin`). */
export interface StatsTcpSocketConfig extends StatsSocketCommon {
  readonly kind: "tcp";
  /** As written. */
  readonly text: string;
  readonly host: string;
  readonly port: number;
}

/** `cpu-map`: "auto" (worker N on core N-1, wrapping) or explicit core sets. */
export type CpuMapConfig = "auto" | CpuSets;

/** Explicit `cpu-map`: core numbers per worker (1-based), and for the workers not named. */
export interface CpuSets {
  /** Cores of the workers not in `byWorker`, or null (not pinned). */
  readonly all: readonly number[] | null;
  readonly byWorker: Readonly<Record<number, readonly number[]>>;
}

/** A frontend's traffic log. */
export interface FrontendLogConfig {
  /** Where its lines go; empty: the frontend logs no traffic (HAProxy without `log`). */
  readonly targets: readonly LogTargetConfig[];
  /** "tcplog", "httplog", "json" or a custom format string, already checked to compile. */
  readonly format: string;
  /** Sessions (tcp) or connections (http) on which the client sent nothing are not logged. */
  readonly dontLogNull: boolean;
  /** Lines of failed sessions and requests are sent at severity "err" instead of "info". */
  readonly separateErrors: boolean;
}

/** HAProxy's `tune.bufsize`, `tune.maxrewrite`, `tune.http.maxhdr`, from `[global.tune]`. */
export interface TuneConfig {
  /** Bytes buffered per direction; a message head must fit in bufsize - maxrewrite. */
  readonly bufsize: number;
  /** Room kept for headers the proxy adds. */
  readonly maxrewrite: number;
  /** Header lines allowed in a message head. */
  readonly httpMaxhdr: number;
}

/** A header test of a condition (`header = { name = "X-Env", equals = "prod" }`). */
export interface HeaderMatcherConfig {
  /** As written; `lowerName` for matching. */
  readonly name: string;
  readonly lowerName: string;
  /** true: the header must be present (the default); false: it must be absent (equals/regex then unset). */
  readonly present: boolean;
  /** Some value of the header equals this exactly (case-sensitive), or null. */
  readonly equals: string | null;
  /** Some value of the header matches this, or null. */
  readonly regex: RegExp | null;
}

/**
 * What a request must look like: every matcher given must match (AND); a matcher given a list
 * matches when any entry does (OR). null: the matcher is not used. An empty condition matches all.
 */
export interface ConditionConfig {
  /** Host header (port removed, lower case) equal to an entry, or for "*.example.com" ending in ".example.com". */
  readonly hosts: readonly string[] | null;
  /** Path (request target up to "?") equal to an entry. */
  readonly paths: readonly string[] | null;
  /** Path starting with an entry. */
  readonly pathPrefixes: readonly string[] | null;
  /** Path matching this regular expression. */
  readonly pathRegex: RegExp | null;
  /** Method equal to an entry (case-sensitive, as RFC 9110 9.1). */
  readonly methods: readonly string[] | null;
  /** Every header test must pass. */
  readonly headers: readonly HeaderMatcherConfig[] | null;
  /** Client address in one of these networks. */
  readonly sources: readonly Cidr[] | null;
  /** The client came over TLS (true) or not (false). */
  readonly tls: boolean | null;
  /** The SNI name the client sent, as `hosts` matches a host ("*.example.com" for its subdomains). */
  readonly sni: readonly string[] | null;
  /** The ALPN protocol agreed equal to an entry. */
  readonly alpn: readonly string[] | null;
  /** The client certificate's state equal to an entry ("none", "valid", "invalid"). */
  readonly clientCert: readonly PeerCertificateState[] | null;
  /** The AUTHORITY of the connection's PROXY v2 header (an `accept-proxy` bind) equal to an entry, compared as `hosts`. */
  readonly ppAuthority: readonly string[] | null;
}

/** A rule's guard: `if = {...}` (negate false) or `unless = {...}` (negate true). */
export interface RuleGuardConfig {
  readonly condition: ConditionConfig;
  readonly negate: boolean;
}

/** A frontend route: the first route whose condition matches picks the backend. */
export interface RouteConfig {
  readonly backend: string;
  readonly condition: ConditionConfig;
}

/**
 * A tcp-mode route by the server name a TLS client asks for in its ClientHello, read without
 * terminating TLS (HAProxy's `use_backend NAME if { req_ssl_sni -i NAME }`).
 */
export interface SniRouteConfig {
  readonly backend: string;
  /** Lower case; "*.example.com" matches any name ending in ".example.com" (one label or more before it). */
  readonly names: readonly string[];
}

/** Redirect codes `redirect` accepts. */
export type RedirectCode = 301 | 302 | 303 | 307 | 308;

/** An `http-request` rule; `when` null: always. */
export type HttpRequestRuleConfig =
  | { readonly action: "set-header" | "add-header"; readonly name: string; readonly value: string; readonly when: RuleGuardConfig | null }
  | { readonly action: "del-header"; readonly name: string; readonly when: RuleGuardConfig | null }
  | { readonly action: "set-path"; readonly path: string; readonly when: RuleGuardConfig | null }
  | {
    readonly action: "redirect";
    readonly code: RedirectCode;
    /** Exactly one of the three is set: a fixed Location, a prefix put before the request's target, or a scheme. */
    readonly location: string | null;
    readonly prefix: string | null;
    readonly scheme: string | null;
    /** Leave the query string out of a prefix or scheme redirect. */
    readonly dropQuery: boolean;
    readonly when: RuleGuardConfig | null;
  }
  | { readonly action: "deny"; readonly status: number; readonly when: RuleGuardConfig | null }
  | {
    readonly action: "return";
    readonly status: number;
    readonly contentType: string;
    readonly body: string;
    readonly when: RuleGuardConfig | null;
  };

/** An `http-response` rule (the condition sees the request that the response answers). */
export type HttpResponseRuleConfig =
  | { readonly action: "set-header" | "add-header"; readonly name: string; readonly value: string; readonly when: RuleGuardConfig | null }
  | { readonly action: "del-header"; readonly name: string; readonly when: RuleGuardConfig | null };

/** `errorfiles`: status → the file's path and its text (read when the configuration is loaded). */
export interface ErrorFileConfig {
  readonly status: number;
  /** As written in the configuration (relative to the current directory, as in HAProxy). */
  readonly path: string;
  /** The file as read, already checked by parseErrorFile (src/http/error_file.ts), which ErrorPages uses to build the page. */
  readonly text: string;
}

/** HAProxy's `option http-keep-alive` (default), `option http-server-close`, `option httpclose`. */
export type HttpConnectionMode = "http-keep-alive" | "http-server-close" | "httpclose";

/** HAProxy's `http-reuse`. */
export type HttpReuseMode = "never" | "safe" | "always";

/** http-mode settings a frontend and a backend both have. */
export interface HttpSectionConfig {
  readonly httpRequestRules: readonly HttpRequestRuleConfig[];
  readonly httpResponseRules: readonly HttpResponseRuleConfig[];
  /** Replacement pages for generated responses. */
  readonly errorFiles: readonly ErrorFileConfig[];
  readonly connectionMode: HttpConnectionMode;
  /** Send each piece of a body at once instead of letting small ones coalesce. */
  readonly httpNoDelay: boolean;
}

/** One address a frontend listens on. */
export interface BindConfig {
  /** As written by the user, for messages. */
  readonly text: string;
  readonly host: string;
  readonly port: number;
  /** SO_REUSEPORT, so a new process can bind beside the old one during a reload. */
  readonly reusePort: boolean;
  /** TLS terminated on this address (HAProxy's `bind ... ssl crt ...`); null: plain TCP. */
  readonly tls: BindTlsConfig | null;
  /**
   * `accept-proxy`: every connection starts with a PROXY protocol header whose addresses replace
   * the socket's. Absent (binds built by hand) means false: a plain bind never reads a header.
   */
  readonly acceptProxy?: boolean;
}

/** One certificate a TLS bind serves, read and checked at load time. */
export interface CertificateConfig {
  /** The file it came from (the `crt` entry, or a file of a `crt` directory). */
  readonly path: string;
  /** PEM: the leaf certificate, then its chain. */
  readonly chain: string;
  /** PEM private key. */
  readonly key: string;
  /** Names SNI picks it by: its DNS subject alternative names, else its CN (lower case, `*.` kept). */
  readonly names: readonly string[];
  readonly subject: string;
  /** Expiry, milliseconds since the epoch. */
  readonly notAfter: number;
}

/** TLS settings of a bind. */
export interface BindTlsConfig {
  /** In load order: the first is the default. */
  readonly certificates: readonly CertificateConfig[];
  /** Refuse a handshake whose SNI name (or its absence) matches no certificate. */
  readonly strictSni: boolean;
  /** ALPN protocols offered, in order of preference. */
  readonly alpn: readonly string[];
  readonly minVersion: TlsVersion;
  /** null: the highest the runtime speaks. */
  readonly maxVersion: TlsVersion | null;
  /** OpenSSL cipher list for TLS 1.2 and below; null: the runtime's default. */
  readonly ciphers: string | null;
  /** TLS 1.3 suites; null: the runtime's default. */
  readonly ciphersuites: string | null;
  /** Client certificates: not asked, asked, or demanded. */
  readonly verify: PeerVerify;
  /** PEM CA certificates client certificates are verified against; null with `verify = "none"` only. */
  readonly ca: string | null;
  readonly caFile: string | null;
}

/** Timeouts of a frontend, in milliseconds; 0 disables one. */
export interface FrontendTimeouts {
  /** Inactivity on the client side. */
  readonly client: number;
  /** http mode: the whole request head must arrive within it. */
  readonly httpRequest: number;
  /** http mode: wait for the next request on a kept-alive connection. */
  readonly httpKeepAlive: number;
  /**
   * tcp mode with SNI routes: how long the TLS ClientHello may take to arrive whole before the
   * session is routed without a server name (HAProxy's `tcp-request inspect-delay`); never 0.
   */
  readonly inspectDelay: number;
}

/** `forwardfor`: the X-Forwarded-For header added to each request (HAProxy's `option forwardfor`). */
export interface ForwardForConfig {
  /** Clients in this network get no header; null: every client does. */
  readonly except: Cidr | null;
  /** The header's name. */
  readonly header: string;
  /** Add it only when the request has none with that name. */
  readonly ifNone: boolean;
}

/** Headers an http-mode section adds to requests; null or false: off. */
export interface ForwardedHeadersConfig {
  readonly forwardFor: ForwardForConfig | null;
  /** Add `X-Forwarded-Proto: http`. */
  readonly forwardedProto: boolean;
  /** Add `X-Forwarded-Host` with the request's Host. */
  readonly forwardedHost: boolean;
}

/** One `monitor-fail` condition: the monitor answers 503 while `backend` has fewer usable servers. */
export interface MonitorFailConfig {
  readonly backend: string;
  /** HAProxy's `nbsrv(backend) lt minServers`: usable = up, not in maintenance or drain, weight > 0. */
  readonly minServers: number;
}

/** An http frontend's health endpoint for the tier in front (HAProxy's `monitor-uri`, `monitor fail`). */
export interface MonitorConfig {
  /** A request whose path equals it is answered by the proxy itself (200, or 503 when failing), never forwarded nor logged. */
  readonly uri: string;
  /** Any condition met makes the answer 503. */
  readonly fail: readonly MonitorFailConfig[];
}

/** An http frontend's stats service (HAProxy's `stats uri`, `stats auth`, `stats refresh`) and Prometheus endpoint. */
export interface StatsConfig {
  /** The page's paths (the first is the one the page links from); `;csv` and `;json` after one give the CSV and the JSON. Empty: no page. */
  readonly uris: readonly string[];
  /** Prometheus text exposition at this path, null: none. */
  readonly metricsUri: string | null;
  /** The page reloads itself this often, ms; 0: never. */
  readonly refresh: number;
  /** Basic-auth realm. */
  readonly realm: string;
  /** "user:password" pairs, any of which opens the stats; empty: no authentication. */
  readonly credentials: readonly string[];
  /** Source networks that may read the stats (others get a 403); null: any. */
  readonly allow: readonly Cidr[] | null;
}

/** Accepts client connections and hands them to a backend. */
export interface FrontendConfig {
  readonly name: string;
  readonly mode: ProxyMode;
  readonly binds: readonly BindConfig[];
  /**
   * "" only for a frontend with routes and no default: in http mode a request no route takes gets
   * a 503, in tcp mode a connection no SNI route takes is closed.
   */
  readonly defaultBackend: string;
  /** Concurrent connections; beyond it, new ones wait unread until a slot frees. */
  readonly maxconn: number;
  /** Kernel accept queue length for each bind. */
  readonly backlog: number;
  readonly timeouts: FrontendTimeouts;
  /** http mode: headers added to requests (combined with the backend's: either one enables a header). */
  readonly forwarded: ForwardedHeadersConfig;
  /** http mode: tried in order before `defaultBackend`. */
  readonly routes: readonly RouteConfig[];
  /**
   * tcp mode: tried in order on the ClientHello's server name; when none matches, or no name can
   * be read, `defaultBackend` (closed when "").
   */
  readonly sniRoutes: readonly SniRouteConfig[];
  readonly http: HttpSectionConfig;
  readonly log: FrontendLogConfig;
  /** http mode: the health endpoint, or null. */
  readonly monitor: MonitorConfig | null;
  /** http mode: the stats page and metrics, or null. */
  readonly stats: StatsConfig | null;
  /**
   * On a graceful stop, how long the frontend keeps listening and serving while its monitor answers
   * 503, ms, before it stops listening (HAProxy's `grace`); 0: stop listening at once.
   */
  readonly grace: number;
}

/** Timeouts of a backend, in milliseconds; 0 disables one. */
export interface BackendTimeouts {
  /** For a connection attempt to a server to succeed. */
  readonly connect: number;
  /** Inactivity on the server side. */
  readonly server: number;
  /** Time a request may wait in a queue for a free server slot; unset in a file: `connect`, as HAProxy. */
  readonly queue: number;
  /** Inactivity of an established tunnel (tcp mode session, upgraded connection); 0: client/server apply. */
  readonly tunnel: number;
}

/** An expected status of an http check: `min` to `max` inclusive ("200" is 200-200, "2xx" 200-299). */
export interface StatusRangeConfig {
  readonly min: number;
  readonly max: number;
}

/** What an http check sends and expects (HAProxy's `option httpchk` and `http-check expect`). */
export interface HttpCheckConfig {
  readonly method: string;
  /** Request target, from "/". */
  readonly path: string;
  /** Host header; null: the address the check connects to. */
  readonly host: string | null;
  /** The check passes when the status is in one of these ranges. */
  readonly expectStatus: readonly StatusRangeConfig[];
  /** The body must contain this text (read up to CHECK_BODY_MAX_BYTES); null: not looked at. */
  readonly expectBody: string | null;
}

/** HAProxy's `observe`: which traffic errors count against a server. */
export type ObserveMode = "layer4" | "layer7";

/** HAProxy's `on-error`: what enough consecutive traffic errors do. */
export type OnErrorAction = "fastinter" | "fail-check" | "sudden-death" | "mark-down";

/** Active and passive health checking of a server (`check`, HAProxy's `check` with `inter`, `rise`...). */
export interface HealthCheckConfig {
  readonly type: "tcp" | "http";
  /** Between two checks while the server is steady (HAProxy's `inter`), ms. */
  readonly interval: number;
  /** Between two checks while the server is changing state (`fastinter`), ms. */
  readonly fastInterval: number;
  /** Between two checks while the server is down (`downinter`), ms. */
  readonly downInterval: number;
  /** Consecutive good checks that bring a down server up. */
  readonly rise: number;
  /** Consecutive failed checks that take an up server down. */
  readonly fall: number;
  /** A check that has not passed within it fails (connect and response together), ms. */
  readonly timeout: number;
  /** Port the check connects to; null: the server's. */
  readonly port: number | null;
  /** Host (IP address or name, resolved at start) the check connects to; null: the server's. */
  readonly address: string | null;
  /** type "http": the request and what it must answer; null for "tcp". */
  readonly http: HttpCheckConfig | null;
  /** Passive health: traffic errors counted against the server; null: off. */
  readonly observe: ObserveMode | null;
  /** Consecutive traffic errors that trigger `onError`. */
  readonly errorLimit: number;
  readonly onError: OnErrorAction;
  /** Close the server's sessions when it is marked down. */
  readonly shutdownSessionsOnDown: boolean;
  /** When this (active) server is marked up, close the sessions on the backend's backup servers. */
  readonly shutdownBackupSessionsOnUp: boolean;
}

/** One server of a backend. */
export interface ServerConfig {
  readonly name: string;
  /** As written by the user, for messages. */
  readonly address: string;
  /** IP address or host name (resolved when the proxy starts). */
  readonly host: string;
  /** null: the port the client connected to. */
  readonly port: number | null;
  readonly weight: number;
  /** Concurrent sessions (http: requests) at most; 0 for no limit. */
  readonly maxconn: number;
  /** Requests waiting in this server's own queue at most; 0 for no limit. */
  readonly maxqueue: number;
  readonly backup: boolean;
  /** Starts in maintenance (HAProxy's `disabled`): no traffic and no checks. */
  readonly disabled: boolean;
  /** A server coming back up ramps its weight and maxconn over this time, ms; 0: at once. */
  readonly slowstart: number;
  /** Health checking of this server (the backend's, merged with the server's own); null: none. */
  readonly check: HealthCheckConfig | null;
  /** TLS towards the server (its own `tls`, else its backend's); null: plain TCP. */
  readonly tls: ServerTlsConfig | null;
  /** The PROXY protocol header sent first on each connection (its own keys, else its backend's). */
  readonly sendProxy: SendProxyConfig;
}

/** PROXY protocol towards a server (HAProxy's `send-proxy`, `send-proxy-v2[-ssl[-cn]]`, `check-send-proxy`). */
export interface SendProxyConfig {
  /** 0: no header; 1: the v1 text line; 2: the v2 binary header. */
  readonly version: 0 | 1 | 2;
  /** v2: add the SSL TLV (whether the client came over TLS, its version). */
  readonly ssl: boolean;
  /** v2: add the client certificate's CN to the SSL TLV. */
  readonly sslCn: boolean;
  /** `check-send-proxy` as given; undefined: HAProxy's default (see `checkSendsProxy`). */
  readonly check: boolean | undefined;
}

/** TLS towards a server (HAProxy's `ssl` on a server line). */
export interface ServerTlsConfig {
  /** Verify the certificate (chain and name); false only with `verify = "none"`. */
  readonly verify: boolean;
  /** PEM CA certificates; null: the runtime's bundled roots. */
  readonly ca: string | null;
  readonly caFile: string | null;
  /** A fixed SNI name; null: the address's host name (none for an IP address), or the request's Host with `sniFromHost`. */
  readonly sni: string | null;
  /** `sni = "req.hdr(host)"`: each connection sends the request's Host (http mode). */
  readonly sniFromHost: boolean;
  /** The name the certificate must be for; null: the SNI name, else the address's host. */
  readonly verifyHost: string | null;
  /** A client certificate for servers that ask for one. */
  readonly certificate: { readonly chain: string; readonly key: string } | null;
  readonly crt: string | null;
  readonly alpn: readonly string[];
  readonly minVersion: TlsVersion;
}

/** A pool of servers and how to use them. */
export interface BackendConfig {
  readonly name: string;
  readonly mode: ProxyMode;
  readonly balance: BalanceAlgorithmName;
  /** Connection attempts after the first that failed. */
  readonly retries: number;
  /** Send the last retry to another server. */
  readonly redispatch: boolean;
  /** With backup servers: use all of them (true) or only the first (false) when no active one is up. */
  readonly allBackups: boolean;
  readonly timeouts: BackendTimeouts;
  readonly servers: readonly ServerConfig[];
  /** http mode: headers added to requests (combined with the frontend's). */
  readonly forwarded: ForwardedHeadersConfig;
  /** `balance = "uri"` / `"hdr(NAME)"` details (null for other algorithms). */
  readonly hashKey: BalanceHashKeyConfig | null;
  readonly httpReuse: HttpReuseMode;
  readonly http: HttpSectionConfig;
}

/** Default values, each with its reason. */
export const DEFAULTS = Object.freeze({
  /** HAProxy's DEFAULT_MAXCONN is derived from the fd limit; 20,000 fits a default 65,536-fd box (two fds a session). */
  globalMaxconn: 20_000,
  /** A frontend may use all of the process's connections unless told otherwise, as in HAProxy. */
  frontendMaxconn: 20_000,
  /** The kernel caps it at net.core.somaxconn anyway; HAProxy uses the frontend's maxconn. */
  backlog: 4_096,
  /** As in HAProxy: three more attempts after the first. */
  retries: 3,
  /** Quick starts have no health checks, so a dead server must not take its share of clients down. */
  redispatch: true,
  /** HAProxy warns when unset; these are the values its documentation suggests. */
  timeoutConnect: 5_000,
  timeoutClient: 30_000,
  timeoutServer: 30_000,
  timeoutHttpRequest: 10_000,
  timeoutHttpKeepAlive: 10_000,
  /**
   * A ClientHello comes in the first round trip: 5 s covers slow mobile links, the value HAProxy's
   * documentation uses in its SNI examples.
   */
  timeoutInspectDelay: 5_000,
  /** Unset in HAProxy: the client and server timeouts keep applying to tunnels. */
  timeoutTunnel: 0,
  /** HAProxy's check defaults: `inter 2s`, `rise 2`, `fall 3`. */
  checkInterval: 2_000,
  checkRise: 2,
  checkFall: 3,
  /** HAProxy's `error-limit` default. */
  checkErrorLimit: 10,
  /** HAProxy's `on-error` default: a burst of traffic errors counts as one failed check. */
  checkOnError: "fail-check" as OnErrorAction,
  /** An http check asks for the root, as HAProxy's `option httpchk` does (with GET: any server answers it). */
  checkHttpMethod: "GET",
  checkHttpPath: "/",
  /** HAProxy's `http-check expect` default: any 2xx or 3xx status passes. */
  checkExpectStatus: Object.freeze([Object.freeze({ min: 200, max: 399 })]) as readonly StatusRangeConfig[],
  /** HAProxy's default name for `option forwardfor`. */
  forwardForHeader: "X-Forwarded-For",
  /** HAProxy's `stats socket ... mode`: the socket's owner only. */
  statsSocketMode: 0o600,
  /** HAProxy's `stats timeout` default. */
  statsSocketTimeout: 10_000,
  /** HAProxy's tune.bufsize, tune.maxrewrite and tune.http.maxhdr. */
  tuneBufsize: 16_384,
  tuneMaxrewrite: 1_024,
  tuneHttpMaxhdr: 101,
  /** The quick start balances like HAProxy's default. */
  balance: "roundrobin" as BalanceAlgorithmName,
});
