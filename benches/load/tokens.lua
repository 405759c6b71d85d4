-- wrk script: each request carries the next token of the file given after the URL. The caller
-- keeps the run short enough that no token is sent twice (compare.sh checks the request count),
-- so every request carries a token the proxy has not seen before.
local tokens = {}
local sent = 0

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then
      tokens[#tokens + 1] = line
    end
  end
end

function request()
  sent = sent + 1
  local token = tokens[((sent - 1) % #tokens) + 1]
  return wrk.format(nil, nil, { ["Authorization"] = "Bearer " .. token })
end
