/**
 * HAProxy's stats columns: their names in HAProxy's order, and the object types a row describes.
 *
 * The names are HAProxy 2.6's (`stat_fields[]` in src/stats.c, `enum stat_field` in
 * include/haproxy/stats-t.h, tag v2.6.0). Tools read `show stat` and `;csv` by position as well
 * as by name (HAProxy's source asks that fields only ever be appended), so the list is kept
 * whole, including the columns we never fill, and in HAProxy's order. `src_ilim` is HAProxy's
 * own spelling of the idle connection limit column.
 *
 * @module
 */

/** The CSV columns of `show stat`, in HAProxy 2.6's order. */
export const STAT_FIELD_NAMES = Object.freeze(
  [
    "pxname",
    "svname",
    "qcur",
    "qmax",
    "scur",
    "smax",
    "slim",
    "stot",
    "bin",
    "bout",
    "dreq",
    "dresp",
    "ereq",
    "econ",
    "eresp",
    "wretr",
    "wredis",
    "status",
    "weight",
    "act",
    "bck",
    "chkfail",
    "chkdown",
    "lastchg",
    "downtime",
    "qlimit",
    "pid",
    "iid",
    "sid",
    "throttle",
    "lbtot",
    "tracked",
    "type",
    "rate",
    "rate_lim",
    "rate_max",
    "check_status",
    "check_code",
    "check_duration",
    "hrsp_1xx",
    "hrsp_2xx",
    "hrsp_3xx",
    "hrsp_4xx",
    "hrsp_5xx",
    "hrsp_other",
    "hanafail",
    "req_rate",
    "req_rate_max",
    "req_tot",
    "cli_abrt",
    "srv_abrt",
    "comp_in",
    "comp_out",
    "comp_byp",
    "comp_rsp",
    "lastsess",
    "last_chk",
    "last_agt",
    "qtime",
    "ctime",
    "rtime",
    "ttime",
    "agent_status",
    "agent_code",
    "agent_duration",
    "check_desc",
    "agent_desc",
    "check_rise",
    "check_fall",
    "check_health",
    "agent_rise",
    "agent_fall",
    "agent_health",
    "addr",
    "cookie",
    "mode",
    "algo",
    "conn_rate",
    "conn_rate_max",
    "conn_tot",
    "intercepted",
    "dcon",
    "dses",
    "wrew",
    "connect",
    "reuse",
    "cache_lookups",
    "cache_hits",
    "srv_icur",
    "src_ilim",
    "qtime_max",
    "ctime_max",
    "rtime_max",
    "ttime_max",
    "eint",
    "idle_conn_cur",
    "safe_conn_cur",
    "used_conn_cur",
    "need_conn_est",
    "uweight",
    "agg_server_check_status",
  ] as const,
);

/** One of HAProxy's column names. */
export type StatFieldName = (typeof STAT_FIELD_NAMES)[number];

/** Position of each column, for building rows by name. */
export const STAT_FIELD_POSITION: Readonly<Record<StatFieldName, number>> = Object.freeze(
  Object.fromEntries(STAT_FIELD_NAMES.map((name, index) => [name, index])) as Record<StatFieldName, number>,
);

/** The `type` column: HAProxy's STATS_TYPE_FE, _BE, _SV (3, listeners, we do not report). */
export const STAT_TYPE = Object.freeze({ frontend: 0, backend: 1, server: 2 } as const);

/** A value of the `type` column. */
export type StatObjectType = (typeof STAT_TYPE)[keyof typeof STAT_TYPE];

/**
 * Bits of the type mask `show stat <iid> <type> <sid>` takes: 1 << type (HAProxy also has 8 for
 * listeners, which we accept and never match).
 */
export const STAT_TYPE_MASK = Object.freeze({ frontend: 1, backend: 2, server: 4 } as const);
