"""Sweep reporting. `python -m xlprune.report <sweep dir>` and the SweepSummary callback both
call build.build_report. Modules, one idea each: collect (jobs on disk -> tidy rows),
series (scores over k), selection (choosing k), paper (the paper's tables), table
(renderings), curves / rankings / plots (figures, Spearman), page (index.html),
files (atomic writes), wandb_summary, sweep (Hydra's job plan), progress, summary.
Nothing heavy is imported here: Hydra loads summary and progress in the sweep process."""
