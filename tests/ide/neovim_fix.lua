-- Drives Neovim's built-in LSP client against `repair lsp` the way a user would: open the broken
-- file, wait for the error diagnostic, ask for code actions on its line, pick "Fix with
-- code_repair", write the file. Writes "ok" or what went wrong to $REPAIR_NVIM_RESULT, then quits.
local result_path = os.getenv("REPAIR_NVIM_RESULT")
local function finish(message)
  local f = io.open(result_path, "w")
  f:write(message)
  f:close()
  vim.cmd("qa!")
end

local ok, err = pcall(function()
  local client_id = vim.lsp.start_client({
    name = "code_repair",
    cmd = { os.getenv("REPAIR_PYTHON"), "-m", "repair.cli", "lsp", "--log-file", os.getenv("REPAIR_LSP_LOG") },
    root_dir = vim.fn.getcwd(),
    init_options = {
      tritonUrl = os.getenv("REPAIR_TRITON_URL"),
      timeoutMs = 60000,
      feedbackStore = os.getenv("REPAIR_FEEDBACK_STORE"),
    },
  })
  vim.lsp.buf_attach_client(0, client_id)
  local errors = function()
    return vim.diagnostic.get(0, { severity = vim.diagnostic.severity.ERROR })
  end
  if not vim.wait(180000, function() return #errors() > 0 end, 100) then
    return finish("no error diagnostic was published")
  end
  local line = errors()[1].lnum
  vim.api.nvim_win_set_cursor(0, { line + 1, 0 })
  local offered = {}
  vim.ui.select = function(items, opts, on_choice)
    for _, item in ipairs(items) do
      local title = opts.format_item(item)
      table.insert(offered, title)
      if title == "Fix with code_repair" then
        return on_choice(item)
      end
    end
    on_choice(nil)
  end
  local before = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, true), "\n")
  vim.lsp.buf.code_action()
  local changed = vim.wait(120000, function()
    return table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, true), "\n") ~= before
  end, 100)
  if not changed then
    return finish("no fix was applied; actions offered: " .. vim.inspect(offered))
  end
  vim.cmd("write")
  if not vim.wait(60000, function() return #errors() == 0 end, 100) then
    return finish("the error diagnostic stayed after the fix")
  end
  finish("ok")
end)
if not ok then
  finish("error: " .. tostring(err))
end
