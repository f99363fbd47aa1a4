"""Writer side of newsbot: load articles, split them into passages, embed and index them."""
