"""Teachers: repairers that propose training targets for `repair_candidates`.

- `search.SearchRepairer`: candidate edits per diagnostic family, verified with the linter (offline default).
- `user_fix.mine_user_fix`: the fix the user made later in the session.
- `dspy_teacher.DSPyRepairer`: an LLM (any LiteLLM model) through a typed DSPy program.
"""
