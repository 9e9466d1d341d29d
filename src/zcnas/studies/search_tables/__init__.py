"""The search tables (``task=aggregate``): a sweep's search results as the paper's Tables III-V
and Figure 2."""
