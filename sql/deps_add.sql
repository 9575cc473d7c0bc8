-- queue_enqueue with depends_on: one edge from :parent to :child.
INSERT INTO orq_deps (parent, child) VALUES (:parent, :child)
