/**
 * What a traffic log line is made from: one record per session (tcp) or request (http), filled
 * by the session as it goes and handed to a compiled log format (log_format.ts) at its end.
 *
 * Field names follow HAProxy's log variables (configuration manual, 8.2.4 "Custom log format");
 * each field says which variable prints it. Timers are milliseconds, -1 for a phase that never
 * completed, as HAProxy prints them.
 *
 * @module
 */

import type { ProxyHeader } from "../proxy_protocol/parse.ts";

/** One session's or request's facts for its log line. */
export interface LogRecord {
  /** %ci, %cp: the client's address and port. */
  clientAddress: string;
  clientPort: number;
  /** %fi, %fp: the address and port the client connected to. */
  frontendAddress: string;
  frontendPort: number;
  /** %t (tcplog) and %T/%Ts: when the connection was accepted, ms since the epoch. */
  acceptDate: number;
  /** %tr (httplog): when the first byte of the request arrived, ms since the epoch. */
  requestDate: number;
  /** %f, %ft: the frontend's name. */
  frontendName: string;
  /** %sslv, %sslc: the client connection's TLS version and cipher ("" on a plain connection; %ft then has no "~"). */
  tlsVersion: string;
  tlsCipher: string;
  /** %[ssl_fc_sni], %[ssl_fc_alpn]: the SNI name and ALPN protocol of the client connection ("" without). */
  tlsServerName: string;
  tlsAlpn: string;
  /** %[ssl_c_used], %[ssl_c_verify], %[ssl_c_s_dn]: the client certificate's state, its verification error (OpenSSL's name, "" when verified) and subject. */
  tlsPeerCertificate: "none" | "valid" | "invalid";
  tlsPeerError: string;
  tlsPeerSubject: string;
  /** %[fc_pp_authority], %[fc_pp_unique_id], %[fc_pp_tlv(...)]: the client connection's PROXY header (accept-proxy), null without. */
  proxied: ProxyHeader | null;
  /** %b: the backend's name ("" before one was chosen: printed as the frontend's name, as HAProxy). */
  backendName: string;
  /** %s: the server's name; null when no server was reached (printed "<NOSRV>"). */
  serverName: string | null;
  /** %si, %sp: the server's address and port ("" and 0 without one). */
  serverAddress: string;
  serverPort: number;
  /** %Th: handshake time (no TLS or PROXY protocol yet: 0). */
  handshakeTime: number;
  /** %Ti: idle time before the request (keep-alive wait). */
  idleTime: number;
  /** %TR: time to receive the whole request head. */
  requestTime: number;
  /** %Tw: time spent waiting in queues. */
  queueTime: number;
  /** %Tc: time to establish the server connection. */
  connectTime: number;
  /** %Tr: server response time (request sent to response head received). */
  responseTime: number;
  /** %Ta: active time of the request (from its first byte to the end of the response). */
  activeTime: number;
  /** %Tt: total session time (accept to close). */
  totalTime: number;
  /** %ST: the http status sent to the client (-1 in tcp mode or when none). */
  status: number;
  /** %B: bytes sent to the client. */
  bytesRead: number;
  /** %U: bytes received from the client. */
  bytesUploaded: number;
  /**
   * %tsc: the four termination-state characters (who ended the session, in which phase, then the
   * two persistence characters, "--" here); %ts prints the first two.
   */
  terminationState: string;
  /** %ac, %fc, %bc, %sc: process, frontend, backend and server concurrent connections at log time. */
  processConnections: number;
  frontendConnections: number;
  backendConnections: number;
  serverConnections: number;
  /** %rc: connection retries. */
  retries: number;
  /** %rc is printed with a leading "+" when the session was redispatched. */
  redispatched: boolean;
  /** %sq, %bq: requests queued on the server and on the backend before this one. */
  serverQueue: number;
  backendQueue: number;
  /** %HM, %HU, %HV: method, request target, "HTTP/1.1" ("" in tcp mode). */
  method: string;
  uri: string;
  httpVersion: string;
  /** %hr, %hs: captured header values, "" when none are captured. */
  capturedRequestHeaders: string;
  capturedResponseHeaders: string;
}

/** A record with every field at its "nothing happened" value; sessions keep one and refill it. */
export function createLogRecord(): LogRecord {
  return {
    clientAddress: "",
    clientPort: 0,
    frontendAddress: "",
    frontendPort: 0,
    acceptDate: 0,
    requestDate: 0,
    frontendName: "",
    tlsVersion: "",
    tlsCipher: "",
    tlsServerName: "",
    tlsAlpn: "",
    tlsPeerCertificate: "none",
    tlsPeerError: "",
    tlsPeerSubject: "",
    proxied: null,
    backendName: "",
    serverName: null,
    serverAddress: "",
    serverPort: 0,
    handshakeTime: 0,
    idleTime: -1,
    requestTime: -1,
    queueTime: -1,
    connectTime: -1,
    responseTime: -1,
    activeTime: -1,
    totalTime: -1,
    status: -1,
    bytesRead: 0,
    bytesUploaded: 0,
    terminationState: "----",
    processConnections: 0,
    frontendConnections: 0,
    backendConnections: 0,
    serverConnections: 0,
    retries: 0,
    redispatched: false,
    serverQueue: 0,
    backendQueue: 0,
    method: "",
    uri: "",
    httpVersion: "",
    capturedRequestHeaders: "",
    capturedResponseHeaders: "",
  };
}
