"""Selection: islands of MAP-Elites grids with elite archives; pure logic, RNG passed in."""
