"""Reading replies: classification (pure) and the evidence a reply is ours."""
