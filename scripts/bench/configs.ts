/**
 * Configuration files for nginx (origin and contender) and HAProxy, written into the run's
 * temporary directory: nothing under /etc is read or changed.
 *
 * @module
 */

/** Where an nginx instance keeps its pid, logs and temporary files. */
export type NginxPaths = {
  directory: string;
  name: string;
};

/** Connection limits sized for the memory scenario. */
export type ConnectionLimits = {
  /** Client connections a contender must accept at once. */
  clientConnections: number;
  /** Open files each process may have (the hard limit may be below what we would like). */
  fileLimit: number;
};

// nginx counts both sides of a proxied connection, plus listeners and a margin.
function nginxWorkerConnections(limits: ConnectionLimits): number {
  return Math.min(Math.max(1_024, limits.clientConnections * 2 + 512), limits.fileLimit - 64);
}

function nginxPreamble(paths: NginxPaths, limits: ConnectionLimits, loadStreamModule: string | null): string {
  const base = `${paths.directory}/${paths.name}`;
  return [
    loadStreamModule === null ? "" : `load_module ${loadStreamModule};`,
    // Root-owned like the rest of the run: the worker must read files in our 0700 temp dir.
    "user root;",
    "worker_processes 1;",
    `pid ${base}.pid;`,
    `error_log ${base}.error.log warn;`,
    `worker_rlimit_nofile ${limits.fileLimit};`,
    `events { worker_connections ${nginxWorkerConnections(limits)}; multi_accept on; }`,
  ].filter((line) => line !== "").join("\n");
}

function nginxHttpTempPaths(paths: NginxPaths): string {
  const base = `${paths.directory}/${paths.name}`;
  return [
    `client_body_temp_path ${base}.client_body;`,
    `proxy_temp_path ${base}.proxy;`,
    `fastcgi_temp_path ${base}.fastcgi;`,
    `uwsgi_temp_path ${base}.uwsgi;`,
    `scgi_temp_path ${base}.scgi;`,
  ].join("\n    ");
}

/** nginx in the foreground with its error log and prefix in `directory`, nothing read from /etc. */
export function nginxForegroundArgs(directory: string, name: string, configPath: string): string[] {
  return ["-e", `${directory}/${name}.error.log`, "-p", directory, "-c", configPath, "-g", "daemon off;"];
}

/** nginx as an origin: 16 bytes on /, a 1 MiB file on /1mb, keep-alive without limits. */
export function nginxOriginConfig(
  paths: NginxPaths,
  port: number,
  smallBody: string,
  largeFilePath: string,
  limits: ConnectionLimits,
): string {
  return `${nginxPreamble(paths, limits, null)}
http {
    access_log off;
    ${nginxHttpTempPaths(paths)}
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000000;
    keepalive_timeout 600s;
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:${port} backlog=4096;
        location = / { return 200 "${smallBody}"; }
        location = /1mb { alias ${largeFilePath}; }
    }
}
`;
}

/** nginx as a tcp-mode contender: the stream module, round robin over both origins. */
export function nginxStreamConfig(
  paths: NginxPaths,
  port: number,
  backends: readonly string[],
  streamModulePath: string | null,
  limits: ConnectionLimits,
): string {
  return `${nginxPreamble(paths, limits, streamModulePath)}
stream {
    upstream origins {
${backends.map((backend) => `        server ${backend};`).join("\n")}
    }
    server {
        listen 127.0.0.1:${port} backlog=4096;
        proxy_pass origins;
        proxy_connect_timeout 5s;
        proxy_timeout 600s;
        tcp_nodelay on;
    }
}
`;
}

/**
 * nginx as an http-mode contender: upstream keep-alive, HTTP/1.1 to the origins. Responses are
 * buffered in memory only (proxy_max_temp_file_size 0): a 1 MiB body must not go to disk. With
 * `certificatePath` (a PEM with the chain and its key) it terminates TLS, at nginx's defaults
 * otherwise (session tickets on, no session cache), as HAProxy and ours do.
 */
export function nginxHttpProxyConfig(
  paths: NginxPaths,
  port: number,
  backends: readonly string[],
  limits: ConnectionLimits,
  certificatePath: string | null = null,
): string {
  const tlsLines = certificatePath === null
    ? ""
    : `\n        ssl_certificate ${certificatePath};\n        ssl_certificate_key ${certificatePath};`;
  return `${nginxPreamble(paths, limits, null)}
http {
    access_log off;
    ${nginxHttpTempPaths(paths)}
    keepalive_requests 1000000000;
    keepalive_timeout 600s;
    upstream origins {
${backends.map((backend) => `        server ${backend};`).join("\n")}
        keepalive 256;
        keepalive_requests 1000000000;
        keepalive_timeout 600s;
    }
    server {
        listen 127.0.0.1:${port}${certificatePath === null ? "" : " ssl"} backlog=4096;${tlsLines}
        location / {
            proxy_pass http://origins;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_max_temp_file_size 0;
        }
    }
}
`;
}

/**
 * HAProxy with one thread, round robin over both origins, in tcp or http mode. With `logPort`, it
 * sends one httplog line per request to 127.0.0.1:logPort over UDP (`log ... local0`, `option
 * httplog`), as a deployment logging to a local syslog daemon would. With `certificatePath` (a PEM
 * with the chain and its key) the bind terminates TLS (`ssl crt`) at HAProxy's defaults.
 */
export function haproxyConfig(
  mode: "tcp" | "http",
  port: number,
  backends: readonly string[],
  limits: ConnectionLimits,
  logPort: number | null = null,
  certificatePath: string | null = null,
): string {
  // HAProxy needs two descriptors per connection and refuses a maxconn the file limit cannot hold.
  const maxConnections = Math.min(limits.clientConnections + 1_000, Math.floor((limits.fileLimit - 128) / 2));
  const httpLines = mode === "http"
    ? [
      "    option http-keep-alive",
      "    http-reuse safe",
      "    timeout http-request 10s",
      "    timeout http-keep-alive 600s",
    ]
    : [];
  const logLines = logPort === null ? { global: [], defaults: [] } : {
    global: [`    log 127.0.0.1:${logPort} local0`],
    defaults: ["    log global", mode === "http" ? "    option httplog" : "    option tcplog"],
  };
  return [
    "global",
    "    nbthread 1",
    `    maxconn ${maxConnections}`,
    ...logLines.global,
    "",
    "defaults",
    `    mode ${mode}`,
    `    maxconn ${maxConnections}`,
    ...logLines.defaults,
    "    timeout connect 5s",
    // Long client and server timeouts: idle connections of the memory scenario must stay open.
    "    timeout client 600s",
    "    timeout server 600s",
    ...httpLines,
    "",
    "frontend bench",
    `    bind 127.0.0.1:${port}${certificatePath === null ? "" : ` ssl crt ${certificatePath}`}`,
    "    default_backend origins",
    "",
    "backend origins",
    "    balance roundrobin",
    ...backends.map((backend, index) => `    server origin${index + 1} ${backend}`),
    "",
  ].join("\n");
}
