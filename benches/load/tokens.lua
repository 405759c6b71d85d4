-- wrk script: each request carries the next token of the file given after the URL, starting at
-- the line given next (1 when absent), so that a later run can go on where an earlier one
-- stopped. The caller keeps the runs short enough that no token is sent twice (compare.sh checks
-- the request counts), so every request carries a token the proxy has not seen before.
local tokens = {}
local sent = 0

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then
      tokens[#tokens + 1] = line
    end
  end
  sent = (tonumber(args[2]) or 1) - 1
end

function request()
  sent = sent + 1
  local token = tokens[((sent - 1) % #tokens) + 1]
  return wrk.format(nil, nil, { ["Authorization"] = "Bearer " .. token })
end
