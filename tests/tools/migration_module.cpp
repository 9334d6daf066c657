// The actor module of migrate_test.cpp: `ark-dash migrate --module` loads it.

#include "actors/migrating_actor.hpp"

ARK_ACTOR("mig", mig::migrating_actor);
ARK_ACTOR("gappy", mig::gappy_actor);
