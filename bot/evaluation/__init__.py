"""`newsbot eval`: run the questions of an eval set through ask() and score them as ../shared/eval/README.md defines."""
