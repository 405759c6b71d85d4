-- wrk script: each request carries the next token of the file given after `--`, and the thread
-- stops once every token has been sent once, so every request of the run carries a token the
-- proxy has not seen before.
local tokens = {}
local sent = 0
local answered = 0

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

function response(status, headers, body)
  answered = answered + 1
  if answered >= #tokens then
    wrk.thread:stop()
  end
end
