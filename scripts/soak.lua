-- The soak's request mix for wrk (issue 19), driven by scripts/soak.sh; see docs/reliability.md, "Soak".
-- Each request is drawn by weighted random choice from MIX below. Its kind travels in its
-- X-Request-Id ("soak-<kind>-<thread>-<n>"), which the server echoes, so response() can count
-- statuses per kind and class; done() adds the threads' counts (wrk gives each thread its own Lua
-- state) and prints them with the latency figures as SOAK/SOAKCOUNT lines for scripts/soak.py.
-- Environment:
--   SOAK_TOKEN      a system client's access token (system/*.cruds), for everything but logins
--   SOAK_IDS        file of seeded resources: "P <id> <family>" and "O <id>" lines
--   SOAK_LOGINS     file of accounts for logins: "<email>\t<password>" lines
--   SOAK_LOGIN_GAP  seconds at least between two logins of one wrk thread (default 10)

-- kind, weight (per mille; they add up to 1000): reads 49.5 %, searches and lists 28 %, writes 22 %,
-- logins 0.5 % (fewer in fact: a thread that logged in less than SOAK_LOGIN_GAP seconds ago draws again,
-- so each thread logs in at most about once per SOAK_LOGIN_GAP seconds whatever the request rate: a
-- login is a bcrypt verification, a quarter of a second of CPU (release build) on one thread at nice
-- 10, which a saturating load starves; more than a few per second would queue without end, and the
-- server answers 503 "busy" once 64 wait)
local MIX = {
  {"fhir_read_patient", 170},
  {"fhir_read_observation", 160},
  {"fhir_search_observation", 110},
  {"fhir_search_patient", 80},
  {"fhir_create_observation", 100},
  {"fhir_update_patient", 60},
  {"platform_read_patient", 165},
  {"platform_list_patients", 90},
  {"platform_create_patient", 60},
  {"login", 5},
}

local threads = {}
local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("tid", thread_count)
  table.insert(threads, thread)
end

local function lines(path)
  local out = {}
  local f = assert(io.open(path, "r"), "cannot open " .. tostring(path))
  for line in f:lines() do
    if line ~= "" then table.insert(out, line) end
  end
  f:close()
  return out
end

local patients, families, observations, accounts = {}, {}, {}, {}
local cumulative, total_weight = {}, 0
local auth, login_gap, last_login = nil, 10, 0
seq = 0
counts = {}

function init(args)
  math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
  for _, line in ipairs(lines(os.getenv("SOAK_IDS"))) do
    local kind, id, family = line:match("^(%a) (%S+) ?(%S*)$")
    if kind == "P" then
      table.insert(patients, id)
      families[id] = family
    elseif kind == "O" then
      table.insert(observations, id)
    end
  end
  for _, line in ipairs(lines(os.getenv("SOAK_LOGINS"))) do
    local email, password = line:match("^([^\t]+)\t(.+)$")
    table.insert(accounts, {email, password})
  end
  assert(#patients > 0 and #observations > 0 and #accounts > 0, "no seeded resources or accounts")
  auth = "Bearer " .. assert(os.getenv("SOAK_TOKEN"), "SOAK_TOKEN is not set")
  login_gap = tonumber(os.getenv("SOAK_LOGIN_GAP") or "10")
  last_login = os.time() - math.random(0, login_gap)  -- the threads' first logins not all at the start
  for _, entry in ipairs(MIX) do
    if entry[2] > 0 then
      total_weight = total_weight + entry[2]
      table.insert(cumulative, {entry[1], total_weight})
    end
  end
end

local function pick()
  local r = math.random(total_weight)
  for _, entry in ipairs(cumulative) do
    if r <= entry[2] then return entry[1] end
  end
  return cumulative[#cumulative][1]
end

local function any(list) return list[math.random(#list)] end

local json_headers = "application/json"
local fhir_json = "application/fhir+json"

function request()
  seq = seq + 1
  local kind = pick()
  if kind == "login" then
    local now = os.time()
    if now - last_login < login_gap then
      repeat kind = pick() until kind ~= "login"  -- this thread logged in too recently
    else
      last_login = now
    end
  end
  local headers = {["X-Request-Id"] = "soak-" .. kind .. "-" .. tostring(tid) .. "-" .. tostring(seq)}
  local method, path, body = "GET", nil, nil
  if kind ~= "login" then headers["Authorization"] = auth end

  if kind == "fhir_read_patient" then
    path = "/fhir/Patient/" .. any(patients)
  elseif kind == "fhir_read_observation" then
    path = "/fhir/Observation/" .. any(observations)
  elseif kind == "fhir_search_observation" then
    path = "/fhir/Observation?subject=Patient/" .. any(patients) .. "&_count=20"
  elseif kind == "fhir_search_patient" then
    path = "/fhir/Patient?family=" .. families[any(patients)] .. "&_count=20"
  elseif kind == "fhir_create_observation" then
    method, path = "POST", "/fhir/Observation"
    headers["Content-Type"] = fhir_json
    body = string.format('{"resourceType":"Observation","status":"final",'
      .. '"code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}]},'
      .. '"subject":{"reference":"Patient/%s"},"effectiveDateTime":"2024-03-%02dT10:%02d:00Z",'
      .. '"valueQuantity":{"value":%d,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}}',
      any(patients), math.random(1, 28), math.random(0, 59), math.random(40, 180))
  elseif kind == "fhir_update_patient" then
    local id = any(patients)
    method, path = "PUT", "/fhir/Patient/" .. id
    headers["Content-Type"] = fhir_json
    body = string.format('{"resourceType":"Patient","id":"%s","name":[{"family":"%s","given":["Soak","U%d_%d"]}],'
      .. '"gender":"female","birthDate":"1980-05-17"}', id, families[id], tid, seq)
  elseif kind == "platform_read_patient" then
    path = "/patients/" .. any(patients)
  elseif kind == "platform_list_patients" then
    path = "/patients?limit=20"
  elseif kind == "platform_create_patient" then
    method, path = "POST", "/patients"
    headers["Content-Type"] = json_headers
    body = string.format('{"firstName":"Soak","lastName":"Platform","dateOfBirth":"1980-05-17","gender":"female",'
      .. '"address":{"line":["1 Load Street"],"city":"Springfield","state":"IL","postalCode":"62701","country":"US"},'
      .. '"contact":{"phone":"+1 555 0100","email":"soak.%d.%d@soak.example","other":[]}}', tid, seq)
  elseif kind == "login" then
    local account = any(accounts)
    method, path = "POST", "/auth/login"
    headers["Content-Type"] = json_headers
    body = string.format('{"email":"%s","password":"%s"}', account[1], account[2])
  end
  return wrk.format(method, path, headers, body)
end

function response(status, headers, body)
  local rid = headers["X-Request-Id"] or headers["X-Request-ID"] or headers["x-request-id"]
  if rid == nil then
    for name, value in pairs(headers) do
      if string.lower(name) == "x-request-id" then rid = value end
    end
  end
  local kind = rid and rid:match("^soak%-([%w_]+)%-") or "unknown"
  local class = tostring(math.floor(status / 100)) .. "xx"
  local key = kind .. " " .. class
  counts[key] = (counts[key] or 0) + 1
  if status == 429 or status == 503 or status == 500 then
    key = kind .. " " .. tostring(status)
    counts[key] = (counts[key] or 0) + 1
  end
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for key, n in pairs(thread:get("counts") or {}) do
      total[key] = (total[key] or 0) + n
    end
  end
  local e = summary.errors
  io.write(string.format(
    "SOAK requests=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%.0f "
    .. "connect=%d read=%d write=%d timeout=%d status=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean, e.connect, e.read, e.write, e.timeout, e.status))
  for key, n in pairs(total) do
    io.write(string.format("SOAKCOUNT %s %d\n", key, n))
  end
end
